"""`stockade bundle build`: an offline install bundle, made on a connected machine from a checkout.

    OUT/wheels/*.whl      every package of the locked closure, for the target platform and Python,
                          downloaded with pip (--only-binary, --require-hashes against the lock), and
                          Stockade's own wheel (`pip wheel --no-deps .`)
    OUT/requirements.txt  `name==version --hash=sha256:...` of each wheel in wheels/
    OUT/install.sh        checks, installs with `pip --no-index --require-hashes`, runs `stockade doctor`
    OUT/README.md         target, torch build and driver, how to install
    OUT/MANIFEST.json     name, version, SHA-256 and size of every file; MANIFEST.json.sig with --sign-key

The bundle is written into ``OUT.partial`` and renamed into place when complete.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import Parser
from pathlib import Path
from typing import Any

from stockade.audit.log import utc_now
from stockade.core.environment import BUILD_NATIVE_VARIABLE, variables_set
from stockade.core.errors import StockadeError
from stockade.core.hashing import sha256_file
from stockade.operations.bundle_manifest import describe, write_manifest
from stockade.operations.install_script import INSTALL_SH, readme
from stockade.operations.lock import (
    LOCK_EXTRAS,
    PYTHONS,
    TARGETS,
    TORCH,
    Pin,
    lock_path,
    normalise,
    read_lock,
    select,
)
from stockade.operations.signing import load_private_key

DEFAULT_PLATFORM = "manylinux_2_28_x86_64"
# On the package registry only as source: built here into a pure-Python wheel from the hash-checked sdist.
BUILT_FROM_SOURCE = frozenset({"jieba"})
# The NVIDIA driver each CUDA release of torch's wheels needs (NVIDIA's CUDA toolkit release notes, table 3).
MIN_DRIVER = {
    "12.1": "530.30.02",
    "12.4": "550.54.14",
    "12.6": "560.28.03",
    "12.8": "570.26",
    "12.9": "575.51.03",
    "13.0": "580.65.06",
}
Runner = Callable[[list[str]], None]


@dataclass(frozen=True)
class BuildRequest:
    source: Path  # the Stockade checkout (pyproject.toml, requirements/)
    out: Path
    target: str = "cpu"
    python: str = "3.11"
    platform: str = DEFAULT_PLATFORM
    extras: tuple[str, ...] = ("train", "serve")
    include_torch: bool = True
    sign_key: Path | None = None
    omit: tuple[
        str, ...
    ] = ()  # packages the target machine already has (installed with --system-site-packages)


@dataclass
class BuildResult:
    out: Path
    manifest: dict[str, Any]
    wheels: int
    bytes: int
    left_out: list[str] = field(default_factory=list)


def run_pip(args: list[str]) -> None:
    """Run pip of this interpreter; a failure shows pip's last lines (they name the package)."""
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise StockadeError(
            f"pip {args[0]} failed:\n{tail}",
            fix="this step needs the package registry (run `bundle build` on the connected build machine); "
            "for the CPU torch build set PIP_EXTRA_INDEX_URL to PyTorch's CPU index",
        )


def _check(request: BuildRequest) -> None:
    problems = []
    if request.target not in TARGETS:
        problems.append(f"--target {request.target!r}: choose one of {', '.join(TARGETS)}")
    if request.python not in PYTHONS:
        problems.append(f"--python {request.python!r}: choose one of {', '.join(PYTHONS)}")
    unknown = [extra for extra in request.extras if extra not in LOCK_EXTRAS]
    if unknown:
        problems.append(
            f"--extras {', '.join(unknown)}: the locks cover {', '.join(LOCK_EXTRAS)} (others, such as gpu "
            "or vllm, are installed from their own wheels on the GPU machine)"
        )
    if not request.platform.replace("_", "").isalnum():
        problems.append(
            f"--platform {request.platform!r}: give a wheel platform tag such as {DEFAULT_PLATFORM}"
        )
    if problems:
        raise StockadeError("; ".join(problems), fix="see `stockade bundle build --help`")
    pyproject = request.source / "pyproject.toml"
    if not pyproject.is_file() or 'name = "stockade"' not in pyproject.read_text(encoding="utf-8"):
        raise StockadeError(
            "not a Stockade checkout (no pyproject.toml of stockade)",
            where=str(request.source),
            fix="run `stockade bundle build` in the Stockade source folder, or give --source DIR",
        )
    if request.out.exists() and (not request.out.is_dir() or any(request.out.iterdir())):
        raise StockadeError(
            "the output folder exists and is not empty", where=str(request.out), fix="give a new --out"
        )


def stockade_roots(wheel: Path, extras: tuple[str, ...], python: str) -> set[str]:
    """Names Stockade's wheel requires for ``extras`` on the target (its METADATA's Requires-Dist)."""
    from packaging.requirements import Requirement

    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(name).decode("utf-8"))
    environment = {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    roots = set()
    for line in metadata.get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        wanted = requirement.marker is None or any(
            requirement.marker.evaluate({**environment, "extra": extra}) for extra in ("", *extras)
        )
        if wanted:
            roots.add(normalise(requirement.name))
    return roots


def torch_facts(pins: dict[str, Pin], target: str, included: bool) -> dict[str, Any]:
    torch = pins.get(TORCH)
    if torch is None:
        raise StockadeError(
            f"the {target} lock pins no torch", fix="regenerate it with requirements/torch-*.in"
        )
    facts: dict[str, Any] = {"included": included, "version": torch.version, "build": "cpu"}
    runtime = next((pin for name, pin in pins.items() if name.startswith("nvidia-cuda-runtime")), None)
    if target == "cuda":
        if runtime is None:
            raise StockadeError("the cuda lock pins no nvidia-cuda-runtime: it is not a CUDA build of torch")
        cuda = ".".join(runtime.version.split(".")[:2])
        facts.update(
            cuda=cuda, build=f"cu{cuda.replace('.', '')}", min_driver=MIN_DRIVER.get(cuda, "see NVIDIA")
        )
    return facts


def compatible_platforms(platform: str) -> list[str]:
    """``platform`` and the older manylinux tags a machine with it also runs (pip does not expand
    ``--platform``): manylinux_2_28_x86_64 takes manylinux_2_17 (manylinux2014) wheels too."""
    match = re.fullmatch(r"manylinux_2_(\d+)_(\w+)", platform)
    if match is None:
        return [platform]
    glibc, arch = int(match.group(1)), match.group(2)
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    tags = []
    for minor in range(glibc, 4, -1):
        tags.append(f"manylinux_2_{minor}_{arch}")
        if minor in legacy:
            tags.append(f"{legacy[minor]}_{arch}")
    return tags


def _download(request: BuildRequest, pins: list[Pin], wheels: Path, work: Path, run: Runner) -> None:
    binary = [pin for pin in pins if normalise(pin.name) not in BUILT_FROM_SOURCE]
    source = [pin for pin in pins if normalise(pin.name) in BUILT_FROM_SOURCE]
    tag = request.python.replace(".", "")
    requirements = work / "download.txt"
    requirements.write_text("".join(pin.requirement() + "\n" for pin in binary), encoding="utf-8")
    run(["download", "--quiet", "--no-deps", "--only-binary=:all:", "--require-hashes",
         *[flag for tag in compatible_platforms(request.platform) for flag in ("--platform", tag)],
         "--python-version", request.python, "--implementation", "cp",
         "--abi", f"cp{tag}", "-d", str(wheels), "-r", str(requirements)])  # fmt: skip
    for pin in source:
        sdists = work / f"sdist-{normalise(pin.name)}"
        pin_file = work / f"{normalise(pin.name)}.txt"
        pin_file.write_text(pin.requirement() + "\n", encoding="utf-8")
        run(["download", "--quiet", "--no-deps", f"--no-binary={pin.name}", "--require-hashes",
             "-d", str(sdists), "-r", str(pin_file)])  # fmt: skip
        built = work / f"built-{normalise(pin.name)}"
        run(["wheel", "--quiet", "--no-deps", "-w", str(built), *map(str, sdists.iterdir())])
        for wheel in built.glob("*.whl"):
            if not wheel.name.endswith("-none-any.whl"):
                raise StockadeError(
                    f"{pin.name} built into a platform wheel ({wheel.name}): it cannot be built for "
                    "another machine",
                    fix=f"remove {pin.name} from BUILT_FROM_SOURCE once the registry has wheels for it",
                )
            shutil.move(str(wheel), wheels / wheel.name)


def _requirements(wheels: Path, pins: list[Pin]) -> tuple[str, int]:
    """requirements.txt: each wheel pinned to its version and its own hash; every pin has exactly one."""
    by_name: dict[str, list[Path]] = {}
    for wheel in sorted(wheels.glob("*.whl")):
        name, _ = describe(f"wheels/{wheel.name}")
        by_name.setdefault(normalise(name), []).append(wheel)
    lines, total = [], 0
    for pin in [*pins]:
        found = by_name.pop(normalise(pin.name), [])
        if len(found) != 1:
            raise StockadeError(f"expected one wheel of {pin.name}=={pin.version}, pip gave {len(found)}")
        total += found[0].stat().st_size
        lines.append(f"{pin.name}=={pin.version} --hash=sha256:{sha256_file(found[0])}\n")
    if by_name:
        raise StockadeError(f"unexpected wheels in the download: {', '.join(sorted(by_name))}")
    return "".join(lines), total


def _omit(pins: list[Pin], names: tuple[str, ...]) -> tuple[list[Pin], list[str]]:
    """Leave out the packages the target machine already provides; each must be one the bundle needs."""
    wanted = {normalise(name) for name in names}
    unknown = sorted(wanted - {normalise(pin.name) for pin in pins})
    if unknown:
        raise StockadeError(
            f"--omit {', '.join(unknown)}: not among the packages this bundle would hold",
            fix="name packages of the bundle's requirements (build once without --omit and read "
            "requirements.txt); torch is left out with --exclude-torch",
        )
    kept = [pin for pin in pins if normalise(pin.name) not in wanted]
    return kept, sorted(normalise(pin.name) for pin in pins if normalise(pin.name) in wanted)


def build_bundle(request: BuildRequest, *, run: Runner = run_pip) -> BuildResult:
    """Build the bundle ``request`` describes; see the module docstring for what it holds."""
    _check(request)
    if request.sign_key is not None:
        load_private_key(request.sign_key)  # a wrong key file is refused before anything is downloaded
    lock = lock_path(request.source, request.target, request.python)
    pins = read_lock(lock)
    torch = torch_facts(pins, request.target, request.include_torch)
    staging = request.out.with_name(f"{request.out.name}.partial")
    if staging.exists():
        shutil.rmtree(staging)
    wheels, work = staging / "wheels", staging / ".work"
    work.mkdir(parents=True)
    wheels.mkdir()
    try:
        # Stockade's optional C extension is compiled for this interpreter: for another target
        # Python the wheel is built without it (pure Python, the same results, slower scans).
        native = request.python == f"{sys.version_info[0]}.{sys.version_info[1]}"
        with variables_set({} if native else {BUILD_NATIVE_VARIABLE: "0"}):
            run(["wheel", "--quiet", "--no-deps", "-w", str(work / "own"), str(request.source)])
        own = next((work / "own").glob("stockade-*.whl"))
        version = describe(f"wheels/{own.name}")[1]  # the checkout's version, not the running one's
        roots = stockade_roots(own, request.extras, request.python)
        selection = select(pins, roots, include_torch=request.include_torch)
        chosen, omitted = _omit(selection.pins, request.omit)
        _download(request, chosen, wheels, work, run)
        text, total = _requirements(wheels, chosen)
        shutil.move(str(own), wheels / own.name)
        text += f"stockade=={version} --hash=sha256:{sha256_file(wheels / own.name)}\n"
        shutil.rmtree(work)
        (staging / "requirements.txt").write_text(text, encoding="utf-8")
        script = staging / "install.sh"
        script.write_text(INSTALL_SH, encoding="utf-8")
        script.chmod(0o755)
        metadata = {
            "kind": "install",
            "name": "stockade",
            "stockade_version": version,
            "created_at": utc_now(),
            "target": request.target,
            "python": request.python,
            "platform": request.platform,
            "extras": list(request.extras),
            "torch": torch,
            "omitted": omitted,
            "lock": lock.relative_to(request.source).as_posix(),
            "lock_sha256": sha256_file(lock),
        }
        (staging / "README.md").write_text(readme(metadata), encoding="utf-8")
        manifest = write_manifest(staging, metadata, sign_key=request.sign_key)
        if request.out.exists():
            request.out.rmdir()  # checked empty above
        os.replace(staging, request.out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildResult(
        request.out,
        manifest,
        len(chosen) + 1,
        total + (request.out / "wheels" / own.name).stat().st_size,
        sorted({*selection.left_out, *omitted}),
    )
