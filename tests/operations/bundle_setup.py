"""Small on-disk bundles for the bundle tests: a fake wheelhouse and a fake pip (the fake model folder is
backup_setup.fake_model)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from stockade.operations.bundle_manifest import write_manifest


def fake_wheelhouse(folder: Path, *, sign_key: Path | None = None) -> Path:
    """A bundle-shaped folder: two tiny 'wheels', requirements.txt, install.sh and a manifest."""
    wheels = folder / "wheels"
    wheels.mkdir(parents=True)
    (wheels / "alpha-1.0-py3-none-any.whl").write_bytes(b"alpha wheel bytes")
    (wheels / "beta_pkg-2.3.1-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"beta" * 100)
    (folder / "requirements.txt").write_text("alpha==1.0 --hash=sha256:00\n", encoding="utf-8")
    (folder / "install.sh").write_text("#!/bin/sh\n", encoding="utf-8")
    write_manifest(folder, {"kind": "install", "python": "3.11"}, sign_key=sign_key)
    return folder


class FakePip:
    """Stands in for `pip wheel` / `pip download`: writes a wheel for each pinned requirement it is
    given, and Stockade's own wheel with the Requires-Dist lines the test chooses. Records each call."""

    def __init__(self, requires: list[str]) -> None:
        self.requires = requires
        self.calls: list[list[str]] = []
        #: STOCKADE_BUILD_NATIVE as each build of Stockade's own wheel saw it (setup.py reads it)
        self.build_native: list[str | None] = []

    def __call__(self, args: list[str]) -> None:
        self.calls.append(args)
        target = Path(args[args.index("-w" if args[0] == "wheel" else "-d") + 1])
        target.mkdir(parents=True, exist_ok=True)
        if (
            args[0] == "wheel"
            and "--no-deps" in args
            and not any(a.endswith((".tar.gz", ".zip")) for a in args)
        ):
            self.build_native.append(os.environ.get("STOCKADE_BUILD_NATIVE"))
            metadata = "Metadata-Version: 2.1\nName: stockade\nVersion: 7.7.7\n" + "".join(
                f"Requires-Dist: {line}\n" for line in self.requires
            )
            with zipfile.ZipFile(target / "stockade-7.7.7-py3-none-any.whl", "w") as archive:
                archive.writestr("stockade-7.7.7.dist-info/METADATA", metadata)
            return
        if args[0] == "wheel":  # built from an sdist
            for sdist in args[args.index("-w") + 2 :]:
                name, version = Path(sdist).name[: -len(".tar.gz")].rsplit("-", 1)
                (target / f"{name}-{version}-py3-none-any.whl").write_bytes(f"built {name}".encode())
            return
        requirements = Path(args[args.index("-r") + 1]).read_text(encoding="utf-8").splitlines()
        for line in requirements:
            name, version = line.split()[0].split("==")
            if any(arg.startswith("--no-binary=") for arg in args):
                (target / f"{name}-{version}.tar.gz").write_bytes(b"sdist")
            else:
                (target / f"{name.replace('-', '_')}-{version}-py3-none-any.whl").write_bytes(name.encode())
