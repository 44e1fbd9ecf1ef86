"""Where records come from: a `DatasetSource` names local files and how to read them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stockade.core.errors import ConfigError
from stockade.data.readers.encoding import normalize_encoding

Formatting = Literal["alpaca", "sharegpt", "messages", "text", "auto"]
FORMATTINGS: tuple[str, ...] = get_args(Formatting)

# File types by suffix. .txt and .md files are plain text, one document per file (stage pt).
# LLaMA-Factory also reads .arrow (Hugging Face caches); Stockade does not.
SUFFIXES: dict[str, str] = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".txt": "text",
    ".md": "text",
}


class DatasetSource(BaseModel):
    """Local files of one dataset and how to turn their rows into conversations.

    ``columns`` and ``tags`` follow LLaMA-Factory's ``dataset_info.json``: when empty, the format's
    defaults apply; when given, they *replace* the defaults and an unnamed column is not read.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    paths: tuple[Path, ...] = Field(min_length=1)
    formatting: Formatting = "auto"
    columns: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    encoding: str = "utf-8"
    num_samples: int | None = Field(default=None, gt=0)  # from dataset_info; the reader yields all
    origin: str | None = None  # where the source was defined, e.g. DIR/dataset_info.json

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        return normalize_encoding(value)

    @property
    def path(self) -> Path:
        return self.paths[0]


def file_kind(path: Path) -> str | None:
    """The reader for a file ('json', 'jsonl', 'csv', 'parquet'), or None when unsupported."""
    return SUFFIXES.get(path.suffix.lower())


def files_in(folder: Path) -> tuple[Path, ...]:
    """The supported data files directly inside a folder, sorted by name (hidden files skipped). Plain
    text files (.txt, .md) count only in a folder with no record file: notes beside data are not data."""
    found = sorted(
        entry
        for entry in folder.iterdir()
        if entry.is_file() and not entry.name.startswith(".") and file_kind(entry)
    )
    records = tuple(path for path in found if file_kind(path) != "text")
    return records or tuple(found)


def expand_path(path: Path, *, what: str, fix: str) -> tuple[Path, ...]:
    """A file, or the supported files of a folder; a clear ConfigError when there is nothing to read."""
    supported = ", ".join(sorted(SUFFIXES))
    if path.is_dir():
        found = files_in(path)
        if not found:
            raise ConfigError(f"{what}: the folder {path} holds no data files ({supported})", fix=fix)
        return found
    if not path.is_file():
        raise ConfigError(f"{what}: file not found: {path}", fix=fix)
    if file_kind(path) is None:
        raise ConfigError(
            f"{what}: unsupported file type {path.suffix or '(none)'!r} for {path}",
            fix=f"convert it to one of: {supported}",
        )
    return (path,)


def check_formatting(formatting: str) -> Formatting:
    if formatting not in FORMATTINGS:
        raise ConfigError(
            f"unknown dataset formatting {formatting!r}", fix=f"choose one of: {', '.join(FORMATTINGS)}"
        )
    return formatting  # type: ignore[return-value]


def source_for_file(path: Path | str, *, formatting: str = "auto", encoding: str = "utf-8") -> DatasetSource:
    """A source for one local file (or a folder of files), outside any dataset_info.json."""
    path = Path(path)
    paths = expand_path(
        path, what=f"dataset {path.name!r}", fix="check the path; Stockade reads local files only"
    )
    return DatasetSource(
        name=path.stem if path.is_file() else path.name,
        paths=paths,
        formatting=check_formatting(formatting),
        encoding=normalize_encoding(encoding),
    )
