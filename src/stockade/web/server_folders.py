"""Server folders the Datasets page may import from (`stockade webui --import-root DIR`): a path typed or
picked in the browser is resolved inside one root, never outside it (no '..', no absolute path, no
symbolic link that leaves it), and becomes `stockade data import`'s arguments."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stockade.core.errors import ConfigError
from stockade.web.forms import UPLOAD_SUFFIXES

DATASET_INFO = "dataset_info.json"  # a LLaMA-Factory data folder's index


@dataclass(frozen=True)
class ServerEntry:
    name: str
    path: str  # relative to its root, '/'-separated
    kind: str  # folder | file | dataset_info


def server_path(roots: tuple[Path, ...], root: str, relative: str) -> Path:
    """``relative`` inside the import root numbered ``root``, with symbolic links resolved; anything that
    would end outside that root ('..', an absolute path, a link pointing out) is refused."""
    if not roots:
        raise ConfigError(
            "this console has no import folder",
            where="server folder",
            fix="start it with `stockade webui --import-root DIR`, or upload the file",
        )
    if not root.isdigit() or int(root) >= len(roots):
        raise ConfigError(f"no import folder number {root!r}", where="root", fix="choose a listed one")
    base = roots[int(root)].resolve()
    given = Path(relative.strip() or ".")
    target = (base / given).resolve()
    if given.is_absolute() or not target.is_relative_to(base):
        raise ConfigError(
            f"{relative!r} is outside the import folder {base}",
            where="path",
            fix="give a path inside the import folder (no '..', not absolute, no link that leaves it)",
        )
    if not target.exists():
        raise ConfigError(f"{relative!r} not found in {base}", where="path", fix="choose a listed entry")
    return target


def server_entries(base: Path, folder: Path) -> list[ServerEntry]:
    """What a folder under an import root holds that can be imported: sub-folders, data files and
    ``dataset_info.json`` (links leaving the root and hidden entries are not shown)."""
    entries = []
    for item in sorted(folder.iterdir(), key=lambda p: (not p.is_dir(), p.name)):
        resolved = item.resolve()
        if item.name.startswith(".") or not resolved.is_relative_to(base):
            continue
        relative = resolved.relative_to(base).as_posix()
        if resolved.is_dir():
            entries.append(ServerEntry(item.name, relative, "folder"))
        elif item.name == DATASET_INFO:
            entries.append(ServerEntry(item.name, relative, "dataset_info"))
        elif item.name.lower().endswith(UPLOAD_SUFFIXES):
            entries.append(ServerEntry(item.name, relative, "file"))
    return entries


def server_import_args(target: Path, name: str, datasets: str) -> list[str]:
    """`stockade data import`'s arguments for a picked file, or for a LLaMA-Factory folder (its
    ``dataset_info.json``, or the folder holding one) with the entries ``datasets``."""
    info = target if target.name == DATASET_INFO else target / DATASET_INFO
    if info.is_file():
        if name:
            raise ConfigError(
                "a dataset_info.json import takes its names from the file",
                where="name",
                fix="leave the name empty; choose the entries under 'datasets'",
            )
        if not datasets.strip():
            raise ConfigError(
                "no entries of dataset_info.json chosen", where="datasets", fix="type NAME[,NAME]"
            )
        return [f"--dataset-dir={info.parent}", f"--dataset={datasets.strip()}"]
    if datasets.strip():
        raise ConfigError(
            "'datasets' names entries of a dataset_info.json; this is a single file",
            where="datasets",
            fix="leave it empty, or pick a dataset_info.json",
        )
    if not target.is_file() or not target.name.lower().endswith(UPLOAD_SUFFIXES):
        raise ConfigError(
            f"cannot import {target.name}",
            where="path",
            fix=f"pick a {', '.join(UPLOAD_SUFFIXES)} file, a dataset_info.json or a folder with one",
        )
    return [str(target), f"--name={name or target.stem}"]
