"""LLaMA-Factory's ``dataset_info.json``: resolve dataset names to local `DatasetSource`s, offline.

Entries that would download (hub, URL, script, cloud file) are refused by name, as are preference,
multimodal and pre-training entries, which Stockade does not train on. Key semantics follow
LLaMA-Factory's ``DatasetAttr.join``: given ``columns``/``tags`` replace the defaults entirely.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from stockade.core.errors import ConfigError
from stockade.data.readers.sources import DatasetSource, expand_path

INFO_FILE = "dataset_info.json"
HUB_KEYS = ("hf_hub_url", "ms_hub_url", "om_hub_url")
URL_PREFIXES = ("http://", "https://", "s3://", "gs://", "hf://")
FORMATTING = {"alpaca": "alpaca", "sharegpt": "sharegpt", "openai": "messages"}
TEXT_COLUMNS = ("prompt", "query", "response", "history", "messages", "system", "tools")
MEDIA_COLUMNS = ("images", "videos", "audios")
PREFERENCE_COLUMNS = ("chosen", "rejected", "kto_tag")
TAG_KEYS = (
    "role_tag",
    "content_tag",
    "user_tag",
    "assistant_tag",
    "observation_tag",
    "function_tag",
    "system_tag",
)


def load_dataset_info(data_dir: Path) -> dict[str, Any]:
    info_path = Path(data_dir) / INFO_FILE
    if not info_path.is_file():
        raise ConfigError(
            f"no {INFO_FILE} in {data_dir}", fix=f"check the data directory, or create {info_path}"
        )
    try:
        info = json.loads(info_path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{info_path} is not valid UTF-8 JSON: {exc}", fix="fix the file's syntax"
        ) from None
    if not isinstance(info, dict):
        raise ConfigError(
            f"{info_path} must hold a JSON object of dataset entries", fix='{"name": {...}, ...}'
        )
    return info


def resolve_dataset_info(data_dir: Path, names: list[str], *, encoding: str = "utf-8") -> list[DatasetSource]:
    """The local sources for `names` in DATA_DIR/dataset_info.json, in order; ConfigError naming the entry."""
    data_dir = Path(data_dir)
    info = load_dataset_info(data_dir)
    sources = []
    for name in names:
        if name not in info:
            close = difflib.get_close_matches(name, list(info), n=3)
            hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
            raise ConfigError(
                f"unknown dataset {name!r} in {data_dir / INFO_FILE}",
                fix=f"{hint}available: {', '.join(sorted(info))}",
            )
        sources.append(_Entry(data_dir, name, info[name]).source(encoding))
    return sources


class _Entry:
    """One entry of dataset_info.json; every refusal names it and the file."""

    def __init__(self, data_dir: Path, name: str, entry: Any) -> None:
        self.data_dir, self.name, self.info_path = data_dir, name, data_dir / INFO_FILE
        if not isinstance(entry, dict):
            raise self.refuse(f"must be an object, not {type(entry).__name__}", '{"file_name": "data.json"}')
        self.entry = entry

    def refuse(self, what: str, fix: str) -> ConfigError:
        return ConfigError(f"dataset {self.name!r} in {self.info_path} {what}", fix=fix)

    def local_file(self) -> str:
        """The file_name, after refusing every way of loading that would download."""
        entry, offline = self.entry, f"copy the file into {self.data_dir} and set file_name"
        remote = (
            (HUB_KEYS, "the hub"),
            (("script_url",), "a loading script"),
            (("cloud_file_name",), "cloud storage"),
        )
        for keys, points_to in remote:
            found = [key for key in keys if key in entry]
            if found:
                where = ", ".join(f"{key}: {entry[key]}" for key in found)
                raise self.refuse(
                    f"points to {points_to} ({where}); Stockade never downloads",
                    f"{offline}, and remove {' and '.join(found)}",
                )
        if entry.get("load_from", "file") != "file":
            raise self.refuse(f"loads from {entry['load_from']!r}; Stockade never downloads", offline)
        file_name = entry.get("file_name")
        if not isinstance(file_name, str) or not file_name:
            raise self.refuse("has no file_name", f"{offline} (a file or a folder in {self.data_dir})")
        if file_name.lower().startswith(URL_PREFIXES):
            raise self.refuse(f"points to a URL (file_name: {file_name}); Stockade never downloads", offline)
        return file_name

    def check_confined(self, paths: list[Path]) -> None:
        """Every file the entry names lies inside the dataset folder, symbolic links resolved: an entry
        must not import ``../../etc/...`` or a link to data kept elsewhere."""
        root = self.data_dir.resolve()
        for path in paths:
            if not path.resolve().is_relative_to(root):
                raise self.refuse(
                    f"names {path} (resolved: {path.resolve()}), which is outside the dataset folder {root}",
                    f"copy the file into {root} (not a symbolic link) and set file_name relative to it",
                )

    def mapping(self, key: str, known: tuple[str, ...]) -> dict[str, str]:
        value = self.entry.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
            raise self.refuse(f"has invalid {key}: it must map names to column/tag names", f"fix {key}")
        for given in value:
            if given not in known:
                close = difflib.get_close_matches(given, known, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise self.refuse(f"has unknown {key} key {given!r}", f"{hint}known: {', '.join(known)}")
        return value

    def check_supported(self, columns: dict[str, str]) -> str:
        """The Stockade formatting, after refusing preference, multimodal and pre-training data."""
        entry = self.entry
        preference = [key for key in PREFERENCE_COLUMNS if key in columns]
        if entry.get("ranking") or preference:
            why = "ranking: true" if entry.get("ranking") else f"columns {', '.join(preference)}"
            raise self.refuse(
                f"is preference data ({why}); preference data (DPO/KTO/reward) is not supported yet",
                "train on a supervised (instruction/answer) dataset",
            )
        media = [f"{key}: {columns[key]}" for key in MEDIA_COLUMNS if key in columns]
        if media:
            raise self.refuse(
                f"is multimodal ({', '.join(media)}); multimodal data is not supported",
                "use a text-only dataset: Stockade fine-tunes on text conversations",
            )
        formatting = entry.get("formatting", "alpaca")
        if formatting not in FORMATTING:
            raise self.refuse(
                f"has unknown formatting {formatting!r}", f"use one of: {', '.join(FORMATTING)}"
            )
        if FORMATTING[formatting] == "alpaca" and columns and not columns.get("response"):
            raise self.refuse(
                "has no response column: it is pre-training text; Stockade fine-tunes on prompt/answer pairs",
                'map the answers with "columns": {"response": ...}',
            )
        if entry.get("split", "train") != "train":
            raise self.refuse(
                f"asks for split {entry['split']!r}; a local file holds one split (train)",
                "remove split, or point file_name at the file of that split",
            )
        return FORMATTING[formatting]

    def source(self, encoding: str) -> DatasetSource:
        file_name = self.local_file()
        columns = self.mapping("columns", TEXT_COLUMNS + MEDIA_COLUMNS + PREFERENCE_COLUMNS)
        tags = self.mapping("tags", TAG_KEYS)
        formatting = self.check_supported(columns)
        samples = self.entry.get("num_samples")
        if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples < 1):
            raise self.refuse(
                f"has num_samples {samples!r}; it must be a positive integer", "fix num_samples"
            )
        path = self.data_dir / file_name
        what, fix = f"dataset {self.name!r} in {self.info_path}", f"copy the data to {path}, or fix file_name"
        paths = expand_path(path, what=what, fix=fix)
        self.check_confined([path, *paths])
        return DatasetSource(
            name=self.name,
            paths=paths,
            formatting=formatting,  # type: ignore[arg-type]
            columns=columns,
            tags=tags if formatting == "sharegpt" else {},
            encoding=encoding,
            num_samples=samples,
            origin=str(self.info_path),
        )
