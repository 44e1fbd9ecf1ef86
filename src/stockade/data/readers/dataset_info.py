"""LLaMA-Factory's ``dataset_info.json``: resolve dataset names to local `DatasetSource`s, offline.

Entries that would download (hub, URL, script, cloud file) are refused by name, as are multimodal
entries, which Stockade does not train on. Preference entries (``ranking: true`` with ``chosen`` and
``rejected`` columns; ``kto_tag``) read as preference records (stage dpo/kto); an alpaca entry that maps
only ``prompt`` (LLaMA-Factory's pre-training text, ``c4_demo``) reads as text (stage pt). Key semantics
follow LLaMA-Factory's ``DatasetAttr.join``: given ``columns``/``tags`` replace the defaults entirely.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from stockade.core.errors import ConfigError
from stockade.data.readers.sources import DatasetSource, expand_path, file_kind

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

    def check_supported(self, columns: dict[str, str]) -> tuple[str, dict[str, str]]:
        """The Stockade formatting and columns, after refusing multimodal data and any preference or
        pre-training layout Stockade would misread."""
        entry = self.entry
        ranking = bool(entry.get("ranking"))
        pairs = [key for key in ("chosen", "rejected") if key in columns]
        if pairs and not ranking:
            raise self.refuse(
                f"names columns {', '.join(pairs)} without ranking: true (LLaMA-Factory would ignore them)",
                'add "ranking": true for preference pairs (stage dpo), or remove the columns',
            )
        if ranking and "kto_tag" in columns:
            raise self.refuse(
                "has ranking: true and a kto_tag column; a record is either a pair or a tagged answer",
                "remove one: ranking pairs train stage dpo, kto_tag answers train stage kto",
            )
        if ranking and not columns:  # the format's own columns, with the pair's
            from stockade.data.readers.formats import FORMATS
            from stockade.data.readers.stream import detect_format  # noqa: F401 - registers the formats

            name = FORMATTING.get(entry.get("formatting", "alpaca"), "alpaca")
            defaults = FORMATS.get(name).columns if name in FORMATS else {}
            columns = {key: value for key, value in defaults.items() if value and key != "response"}
        if ranking:
            columns = {
                **columns,
                "chosen": columns.get("chosen", "chosen"),
                "rejected": columns.get("rejected", "rejected"),
            }
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
        preference = ranking or "kto_tag" in columns
        if preference and FORMATTING[formatting] == "messages":
            raise self.refuse(
                "is preference data in the openai formatting; Stockade reads it only as alpaca or sharegpt",
                'set "formatting": "sharegpt" (with tags) or "alpaca"',
            )
        if FORMATTING[formatting] == "alpaca" and columns and not columns.get("response") and not ranking:
            if "kto_tag" in columns or not columns.get("prompt"):
                raise self.refuse(
                    "has no response column",
                    'map the answers with "columns": {"response": ...}',
                )
            others = sorted(set(columns) - {"prompt"})
            if others:
                raise self.refuse(
                    f"maps only prompt as pre-training text, but also {', '.join(others)}, which plain text "
                    "has no use for",
                    'keep "columns": {"prompt": "text"} for pre-training text (stage pt), or add a response',
                )
            return "text", {"text": columns["prompt"]}
        if entry.get("split", "train") != "train":
            raise self.refuse(
                f"asks for split {entry['split']!r}; a local file holds one split (train)",
                "remove split, or point file_name at the file of that split",
            )
        return FORMATTING[formatting], columns

    def source(self, encoding: str) -> DatasetSource:
        file_name = self.local_file()
        columns = self.mapping("columns", TEXT_COLUMNS + MEDIA_COLUMNS + PREFERENCE_COLUMNS)
        tags = self.mapping("tags", TAG_KEYS)
        formatting, columns = self.check_supported(columns)
        samples = self.entry.get("num_samples")
        if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples < 1):
            raise self.refuse(
                f"has num_samples {samples!r}; it must be a positive integer", "fix num_samples"
            )
        path = self.data_dir / file_name
        what, fix = f"dataset {self.name!r} in {self.info_path}", f"copy the data to {path}, or fix file_name"
        paths = expand_path(path, what=what, fix=fix)
        self.check_confined([path, *paths])
        if all(file_kind(p) == "text" for p in paths) and formatting != "text":
            if formatting != "alpaca" or "response" in columns or "chosen" in columns or "kto_tag" in columns:
                raise self.refuse(
                    f"names plain-text files ({file_name}), which hold documents, not {formatting} records",
                    "drop formatting and columns: .txt/.md files train stage pt as they are",
                )
            formatting, columns = "text", {"text": "text"}  # one document per file
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
