"""The dependency locks kept in the repository (``requirements/lock-<target>-py<XY>.txt``).

Each lock is ``pip-compile --generate-hashes`` output for ``stockade[train,serve,postgres]`` plus the
torch build of its target (docs/operations.md says how to regenerate them). Its ``# via`` notes are the
dependency graph: ``select`` walks it from Stockade's own requirements for the extras asked for, so a
bundle holds exactly the closure it needs, each file pinned to a version and the hashes the lock allows.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from stockade.core.errors import StockadeError

TARGETS = ("cpu", "cuda")
PYTHONS = ("3.10", "3.11", "3.12")
LOCK_EXTRAS = ("train", "serve", "postgres")  # what every lock was compiled with
TORCH = "torch"
# what torch's CUDA build carries beside it; left out with torch (the GPU machine has its own)
CUDA_RUNTIME = re.compile(r"^(nvidia-|triton$|cuda-)")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(;[^\\]*)?\\?\s*$")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")
STOCKADE_ROOT = "stockade"


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Pin:
    name: str
    version: str
    hashes: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)  # normalised names; "stockade" or "-r FILE" for roots

    def requirement(self) -> str:
        hashes = " ".join(f"--hash=sha256:{digest}" for digest in self.hashes)
        return f"{self.name}=={self.version} {hashes}"


def lock_path(root: Path, target: str, python: str) -> Path:
    return root / "requirements" / f"lock-{target}-py{python.replace('.', '')}.txt"


def read_lock(path: Path) -> dict[str, Pin]:
    if not path.is_file():
        raise StockadeError(
            "there is no dependency lock for this target and Python",
            where=str(path),
            fix="generate it as docs/operations.md shows (`pip-compile --generate-hashes ...` with that "
            "Python), or choose a target/--python that has one (ls requirements/)",
        )
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    in_via = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if not stripped or (stripped.startswith("#") and current is None):
            continue
        if not line.startswith((" ", "\t")) and not stripped.startswith("#"):
            if stripped.startswith(
                "-"
            ):  # --extra-index-url and similar options: the build's pip config rules
                continue
            match = _PIN.match(stripped)
            if match is None or match.group(3):
                raise StockadeError(
                    f"line {number} is not a plain `name==version \\` pin: {stripped[:80]!r}",
                    where=str(path),
                    fix="regenerate the lock with pip-compile for one Python (docs/operations.md)",
                )
            current = Pin(match.group(1), match.group(2))
            pins[normalise(current.name)] = current
            in_via = False
            continue
        if current is None:
            continue
        current.hashes.extend(_HASH.findall(stripped))
        if stripped.startswith("# via"):
            in_via = True
            rest = stripped[len("# via") :].strip()
            if rest:
                current.parents.append(_parent(rest))
        elif in_via and stripped.startswith("#   "):
            current.parents.append(_parent(stripped[1:].strip()))
    for pin in pins.values():
        if not pin.hashes:
            raise StockadeError(
                f"{pin.name}=={pin.version} has no --hash in the lock",
                where=str(path),
                fix="use --generate-hashes",
            )
    return pins


def _parent(text: str) -> str:
    if text.startswith("-r "):
        return text
    return normalise(text.split(" ", 1)[0].split("[", 1)[0])


@dataclass(frozen=True)
class Selection:
    pins: list[Pin]
    left_out: list[str]  # names of locked packages not needed, or excluded with torch


def select(pins: dict[str, Pin], roots: set[str], *, include_torch: bool) -> Selection:
    """The lock's closure from ``roots`` (normalised names); torch and the CUDA runtime it alone
    needs are left out unless ``include_torch``, its pure-Python dependencies stay (a torch wheel carried
    beside the bundle then installs with --no-index)."""
    missing = sorted(name for name in roots if name not in pins)
    if missing:
        raise StockadeError(
            f"the lock does not pin {', '.join(missing)}, which Stockade requires",
            fix="regenerate the lock after changing pyproject.toml (docs/operations.md)",
        )
    children: dict[str, set[str]] = {}
    for name, pin in pins.items():
        for parent in pin.parents:
            children.setdefault(parent, set()).add(name)
    if include_torch:
        roots = roots | {TORCH} if TORCH in pins else roots

    def closure(skip: set[str]) -> set[str]:
        seen: set[str] = set()
        queue = deque(name for name in roots if name not in skip)
        while queue:
            name = queue.popleft()
            if name in seen:
                continue
            seen.add(name)
            queue.extend(child for child in children.get(name, ()) if child not in skip)
        return seen

    everything = closure(set())
    chosen = everything
    if not include_torch:
        without = closure({TORCH})
        torch_only = everything - without - {TORCH}
        chosen = without | {name for name in torch_only if not CUDA_RUNTIME.match(name)}
    return Selection([pins[name] for name in sorted(chosen)], sorted(set(pins) - chosen, key=str.lower))
