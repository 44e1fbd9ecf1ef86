"""Serving load from the client side (TTFT, TPOT, ITL, e2e p50/p99, output tokens/s) against a URL.

    python benchmarks/serve_load.py --url http://127.0.0.1:5000 --token TOKEN --concurrency 1,8,32

The code lives in ``stockade.bench.serve_load`` (so ``python -m stockade.bench.serve`` can run it too);
this file runs it from a source checkout without installing the package.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from stockade.bench.serve_load import main

if __name__ == "__main__":
    main()
