"""The one rule for a path a user types (a config file, ``--save-config``, ``output_dir``, an adapter
folder, ``dataset_dir``, ``serve --adapter``): ``~`` is expanded and a relative path is taken from the
current folder, as LLaMA-Factory and every shell tool do — never from the workspace. So
``stockade train … --save-config configs/x.yaml`` then ``stockade train configs/x.yaml`` from the same
folder reads the file just written. Errors name the absolute path a relative one resolved to, and
point to a copy under the workspace when there is one there instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from stockade.core.errors import ConfigError


def user_path(text: str | os.PathLike[str]) -> Path:
    """``text`` as an absolute path: ``~`` expanded, relative to the current folder."""
    return Path(os.path.abspath(Path(text).expanduser()))


def resolved(text: str | os.PathLike[str]) -> str:
    """How an error names a path: the text given and, when it differs, the absolute path it became."""
    path = user_path(text)
    return str(path) if str(text) == str(path) else f"{str(text)!r} (resolved to {path})"


def existing_path(
    text: str | os.PathLike[str],
    *,
    what: str,
    kind: Literal["file", "folder"] = "file",
    where: str | None = None,
    workspace_root: Path | None = None,
) -> Path:
    """``text`` by the rule above; a ConfigError naming the resolved path unless it is a ``kind`` there."""
    path = user_path(text)
    if path.is_file() if kind == "file" else path.is_dir():
        return path
    problem = f"is not a {kind}" if path.exists() else "not found"
    fix = f"check the path; a relative path is taken from the current folder ({Path.cwd()})"
    given = Path(text).expanduser()
    if workspace_root is not None and not given.is_absolute():
        copy = workspace_root / given
        if copy.is_file() if kind == "file" else copy.is_dir():
            fix = f"the workspace has {copy}: give that path, or run the command from {workspace_root}"
    raise ConfigError(f"{what} {problem}: resolved {str(text)!r} to {path}", where=where, fix=fix)
