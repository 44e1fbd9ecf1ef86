"""dataset_info.json entries are confined to --dataset-dir (issue 14, item 6): ``..`` paths, absolute
paths and symbolic links that resolve outside it are refused, naming the entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stockade.core.errors import ConfigError
from stockade.data.readers import resolve_dataset_info

RECORDS = [{"instruction": "问", "output": "答"}]


def _setup(tmp_path: Path, file_name: str) -> Path:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text(json.dumps(RECORDS), encoding="utf-8")
    (data_dir / "inside.json").write_text(json.dumps(RECORDS), encoding="utf-8")
    (data_dir / "link.json").symlink_to(outside / "secret.json")
    (data_dir / "linked_dir").symlink_to(outside)
    (data_dir / "dataset_info.json").write_text(json.dumps({"d": {"file_name": file_name}}))
    return data_dir


@pytest.mark.parametrize(
    "file_name", ["../outside/secret.json", "link.json", "linked_dir", "{outside}/secret.json"]
)
def test_entries_pointing_outside_the_dataset_dir_are_refused(tmp_path: Path, file_name: str) -> None:
    data_dir = _setup(tmp_path, file_name.format(outside=tmp_path / "outside"))
    with pytest.raises(ConfigError) as error:
        resolve_dataset_info(data_dir, ["d"])
    assert "outside the dataset folder" in str(error.value) and "'d'" in str(error.value)


def test_an_entry_inside_the_dataset_dir_is_read(tmp_path: Path) -> None:
    data_dir = _setup(tmp_path, "inside.json")
    [source] = resolve_dataset_info(data_dir, ["d"])
    assert [p.resolve() for p in source.paths] == [(data_dir / "inside.json").resolve()]
