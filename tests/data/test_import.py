"""`stockade data import | list | show | rm`: versions, no-op re-imports, validation, lineage-safe rm."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.conftest import LLAMAFACTORY_DATA, run_cli

GUIDE_RECORDS = [
    {
        "instruction": "生成风险评估报告",
        "input": "客户A,年龄35,年收入50万",
        "output": "根据评估标准,该客户...",
    },
    {
        "instruction": "解释债券违约风险",
        "input": "",
        "output": "债券违约风险是指发行人无法按期还本付息的可能性。",
    },
]


def _write(path: Path, records: list) -> Path:
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def _cli(workspace: Path, *args: str):
    return run_cli("-w", str(workspace), *args)


def _versions(workspace: Path) -> list[dict]:
    return json.loads(_cli(workspace, "data", "list", "--json").stdout)


def test_import_versions_and_noop(workspace_dir: Path, tmp_path: Path) -> None:
    source = _write(tmp_path / "dataset.json", GUIDE_RECORDS)
    first = _cli(workspace_dir, "data", "import", str(source), "--name", "finance")
    assert first.returncode == 0, first.stderr
    assert "stored finance@v1: 2 records" in first.stdout
    again = _cli(workspace_dir, "data", "import", str(source), "--name", "finance")
    assert again.returncode == 0 and "unchanged: identical to finance@v1" in again.stdout
    _write(
        source, [*GUIDE_RECORDS, {"instruction": "什么是LPR", "input": "", "output": "贷款市场报价利率。"}]
    )
    changed = _cli(workspace_dir, "data", "import", str(source), "--name", "finance")
    assert "stored finance@v2: 3 records" in changed.stdout
    assert [v["ref"] for v in _versions(workspace_dir)] == ["finance@v1", "finance@v2"]
    latest = json.loads(_cli(workspace_dir, "data", "show", "finance").stdout)
    assert latest["ref"] == "finance@v2" and latest["rows"] == 3
    assert latest["sources"][0]["sha256"] and len(latest["content_sha256"]) == 64
    assert latest["privacy"]["status"] == "passed"  # the gate scanned it and found nothing
    assert latest["stats"]["answer_chars"]["count"] == 3
    stored = workspace_dir / latest["path"]
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    first_record = json.loads(stored.read_text(encoding="utf-8").splitlines()[0])
    assert first_record["messages"][0] == {
        "role": "user",
        "content": "生成风险评估报告\n客户A,年龄35,年收入50万",
    }
    tail = _cli(workspace_dir, "audit", "tail", "--json").stdout.splitlines()
    actions = [json.loads(line)["action"] for line in tail]
    assert actions == [
        "workspace.init",
        "user.add",  # the first admin, logged in by init
        "user.login",
        "secret.create",
        "dataset.import",
        "dataset.import",
    ]
    assert _cli(workspace_dir, "audit", "verify").returncode == 0


def test_invalid_records_store_nothing_and_say_where(workspace_dir: Path, tmp_path: Path) -> None:
    bad = [GUIDE_RECORDS[0], {"instruction": "缺少输出"}, {"instruction": "空", "input": "", "output": "  "}]
    source = _write(tmp_path / "bad.json", bad)
    result = _cli(workspace_dir, "data", "import", str(source), "--name", "bad")
    assert result.returncode == 1
    assert "2 invalid records; nothing was imported" in result.stderr
    assert "record 1" in result.stderr and "record 2" in result.stderr and "output" in result.stderr
    assert "Traceback" not in result.stderr
    assert _versions(workspace_dir) == []
    assert not (workspace_dir / "datasets" / "bad").exists()
    skipped = _cli(workspace_dir, "data", "import", str(source), "--name", "bad", "--skip-invalid")
    assert skipped.returncode == 0 and "skipped 2 invalid records" in skipped.stdout
    shown = json.loads(_cli(workspace_dir, "data", "show", "bad@v1").stdout)
    assert shown["rows"] == 1 and shown["provenance"]["skipped_invalid"] == 2


def test_rm_needs_a_version_and_keeps_lineage(workspace_dir: Path, tmp_path: Path) -> None:
    source = _write(tmp_path / "d.json", GUIDE_RECORDS)
    _cli(workspace_dir, "data", "import", str(source), "--name", "finance")
    vague = _cli(workspace_dir, "data", "rm", "finance")
    assert vague.returncode == 1 and "finance@v1" in vague.stderr
    removed = _cli(workspace_dir, "data", "rm", "finance@v1", "--reason", "retention period over")
    assert removed.returncode == 0 and "lineage needs them" in removed.stdout
    folder = workspace_dir / "datasets" / "finance" / "v1"
    assert not (folder / "data.jsonl").exists() and (folder / "manifest.json").is_file()
    (view,) = _versions(workspace_dir)
    assert view["status"] == "removed" and view["content_sha256"]
    assert _cli(workspace_dir, "data", "rm", "finance@v1").returncode == 1  # already removed
    missing = _cli(workspace_dir, "data", "show", "nothing@v9")
    assert missing.returncode == 2 and "data list" in missing.stderr


def test_llamafactory_folder_imports_local_entries(workspace_dir: Path) -> None:
    entries = "alpaca_zh_demo,alpaca_en_demo,identity,glaive_toolcall_zh_demo"
    result = _cli(
        workspace_dir, "data", "import", "--dataset-dir", str(LLAMAFACTORY_DATA), "--dataset", entries
    )
    assert result.returncode == 0, result.stderr
    refs = {v["name"]: v["rows"] for v in _versions(workspace_dir)}
    for name in entries.split(","):
        expected = len(json.loads((LLAMAFACTORY_DATA / f"{name}.json").read_text(encoding="utf-8")))
        assert refs[name] == expected, name


@pytest.mark.parametrize("entry", ["mllm_demo", "glaive_toolcall_en_demo"])
def test_llamafactory_entries_that_are_not_local_are_refused_by_name(workspace_dir: Path, entry: str) -> None:
    result = _cli(
        workspace_dir, "data", "import", "--dataset-dir", str(LLAMAFACTORY_DATA), "--dataset", entry
    )
    assert result.returncode != 0 and entry in result.stderr and "Traceback" not in result.stderr


def test_hub_entries_are_refused_by_name(workspace_dir: Path) -> None:
    info = json.loads((LLAMAFACTORY_DATA / "dataset_info.json").read_text(encoding="utf-8"))
    hub = next(name for name, entry in info.items() if "hf_hub_url" in entry)
    result = _cli(workspace_dir, "data", "import", "--dataset-dir", str(LLAMAFACTORY_DATA), "--dataset", hub)
    assert result.returncode != 0 and hub in result.stderr and "download" in result.stderr


def test_token_statistics_with_a_tokenizer(workspace_dir: Path, tmp_path: Path) -> None:
    from stockade.models.tiny import build_tiny_model

    model = build_tiny_model("qwen2", tmp_path / "tiny")
    source = _write(tmp_path / "d.json", GUIDE_RECORDS)
    result = _cli(workspace_dir, "data", "import", str(source), "--name", "f", "--tokenizer", str(model.path))
    assert result.returncode == 0, result.stderr
    stats = json.loads(_cli(workspace_dir, "data", "show", "f").stdout)["stats"]
    assert stats["answer_tokens"]["count"] == 2 and stats["answer_tokens"]["min"] > 0


def test_argument_errors(workspace_dir: Path, tmp_path: Path) -> None:
    neither = _cli(workspace_dir, "data", "import")
    assert neither.returncode == 2 and "either a file" in neither.stderr
    source = _write(tmp_path / "d.json", GUIDE_RECORDS)
    versioned = _cli(workspace_dir, "data", "import", str(source), "--name", "finance@v3")
    assert versioned.returncode == 1 and "must not carry a version" in versioned.stderr
    bad_format = _cli(workspace_dir, "data", "import", str(source), "--format", "csv")
    assert bad_format.returncode == 2
