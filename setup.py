"""The one optional C extension (everything else is in pyproject.toml).

``stockade.privacy.detectors._segment`` is the name detector's word-boundary search in C (see its
source). It is optional: where no C compiler is found, or with ``STOCKADE_BUILD_NATIVE=0``, the
package installs without it and the same search runs in Python (slower, same results).
"""

import os

from setuptools import Extension, setup

NATIVE = os.environ.get("STOCKADE_BUILD_NATIVE", "1") != "0"  # core.environment.BUILD_NATIVE_VARIABLE

setup(
    ext_modules=[
        Extension(
            "stockade.privacy.detectors._segment",
            ["src/stockade/privacy/detectors/_segment.c"],
            # the same IEEE additions as the Python version, in the same order: no fused operations
            extra_compile_args=["-O2", "-ffp-contract=off"],
            optional=True,
        )
    ]
    if NATIVE
    else [],
)
