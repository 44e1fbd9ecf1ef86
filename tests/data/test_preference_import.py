"""Preference, KTO and plain-text data: read from LLaMA-Factory's dataset_info.json entries and imported
through the privacy gate like any dataset, every text (chosen AND rejected) scanned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stockade.core.errors import ConfigError
from stockade.data.readers import read_records, resolve_dataset_info, source_for_file
from stockade.data.records import (
    Conversation,
    KtoExample,
    PreferencePair,
    RecordProblem,
    TextDocument,
    parse_record,
)
from tests.conftest import FIXTURES, run_cli

STAGES = FIXTURES / "llamafactory" / "stages"


def gb11643(body17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body17 + "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights, strict=True)) % 11]


ID_NUMBER = gb11643("11010519900307281")
MOBILE = "13812345678"


@pytest.mark.parametrize(
    ("name", "kind", "count"),
    [
        ("c4_demo", TextDocument, 12),
        ("dpo_en_demo", PreferencePair, 12),
        ("dpo_zh_demo", PreferencePair, 12),
        ("kto_en_demo", KtoExample, 16),
    ],
)
def test_llamafactory_entries_read_as_their_kind(name: str, kind: type, count: int) -> None:
    (source,) = resolve_dataset_info(STAGES, [name])
    records = list(read_records(source))
    assert all(isinstance(r, kind) for r in records), [r for r in records if isinstance(r, RecordProblem)][:2]
    assert len(records) == count
    raw = json.loads((STAGES / f"{name}.json").read_text(encoding="utf-8")) if name != "c4_demo" else None
    if kind is PreferencePair:
        first = records[0]
        assert first.messages[-2].content == raw[0]["chosen"]["value"]
        assert first.messages[-1].content == raw[0]["rejected"]["value"]
        assert first.conversation("rejected").messages[-1].role == "assistant"
    if kind is KtoExample:
        assert [r.kto_tag for r in records] == [row["label"] for row in raw]
    for record in records:  # what is stored reads back the same
        assert parse_record(json.loads(json.dumps(record.to_json()))) == record


def _info(folder: Path, entry: dict, rows: list[dict]) -> Path:
    (folder / "pairs.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    (folder / "dataset_info.json").write_text(json.dumps({"pairs": {"file_name": "pairs.json", **entry}}))
    return folder


def test_alpaca_ranking_pairs_and_kto_tags(tmp_path: Path) -> None:
    rows = [
        {"instruction": "问", "input": "补充", "chosen": "好答案", "rejected": "坏答案", "system": "你是助手"}
    ]
    _info(
        tmp_path,
        {
            "ranking": True,
            "columns": {
                "prompt": "instruction",
                "query": "input",
                "chosen": "chosen",
                "rejected": "rejected",
                "system": "system",
            },
        },
        rows,
    )
    (pair,) = read_records(resolve_dataset_info(tmp_path, ["pairs"])[0])
    assert isinstance(pair, PreferencePair)
    assert [(t.role, t.content) for t in pair.messages] == [
        ("system", "你是助手"),
        ("user", "问\n补充"),
        ("chosen", "好答案"),
        ("rejected", "坏答案"),
    ]
    _info(tmp_path, {"ranking": True}, rows)  # no columns: alpaca's own, with chosen/rejected
    (pair,) = read_records(resolve_dataset_info(tmp_path, ["pairs"])[0])
    assert isinstance(pair, PreferencePair) and pair.messages[-2].content == "好答案"
    kto = [{"instruction": "问", "output": "答", "tag": "false"}]
    _info(tmp_path, {"columns": {"prompt": "instruction", "response": "output", "kto_tag": "tag"}}, kto)
    (example,) = read_records(resolve_dataset_info(tmp_path, ["pairs"])[0])
    assert isinstance(example, KtoExample) and example.kto_tag is False


@pytest.mark.parametrize(
    ("entry", "row", "fragment"),
    [
        ({"columns": {"prompt": "instruction", "chosen": "c", "rejected": "r"}}, {}, "without ranking: true"),
        ({"ranking": True, "formatting": "openai"}, {}, "openai formatting"),
        (
            {"ranking": True, "columns": {"prompt": "q", "chosen": "c", "rejected": "r", "kto_tag": "t"}},
            {},
            "either a pair",
        ),
        ({"columns": {"prompt": "text", "system": "s"}}, {}, "maps only prompt as pre-training text"),
    ],
)
def test_preference_layouts_that_would_be_misread_are_refused(tmp_path: Path, entry, row, fragment) -> None:
    _info(tmp_path, entry, [row])
    with pytest.raises(ConfigError, match=fragment):
        resolve_dataset_info(tmp_path, ["pairs"])


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ({"instruction": "问", "chosen": "好", "rejected": "  "}, "'rejected' is empty"),
        ({"instruction": "问", "chosen": "好"}, "missing field 'rejected'"),
        (
            {
                "conversations": [{"from": "human", "value": "问"}],
                "chosen": {"from": "human", "value": "x"},
                "rejected": {"from": "gpt", "value": "y"},
            },
            "a preference answer must be 'gpt'",
        ),
        (
            {
                "conversations": [{"from": "human", "value": "问"}, {"from": "gpt", "value": "答"}],
                "chosen": {"from": "gpt", "value": "x"},
                "rejected": {"from": "gpt", "value": "y"},
            },
            "turns must alternate",
        ),
    ],
)
def test_bad_preference_records_are_reported_by_field(tmp_path: Path, row: dict, fragment: str) -> None:
    formatting = "sharegpt" if "conversations" in row else "alpaca"
    _info(tmp_path, {"ranking": True, "formatting": formatting}, [row])
    (problem,) = read_records(resolve_dataset_info(tmp_path, ["pairs"])[0])
    assert isinstance(problem, RecordProblem) and fragment in problem.render()


def test_text_files_and_text_columns(tmp_path: Path) -> None:
    path = tmp_path / "manual.jsonl"
    path.write_text('{"text": "第一章 总则"}\n{"text": "第二章 授信"}\n', encoding="utf-8")
    records = list(read_records(source_for_file(path)))  # detected from the key
    assert [r.text for r in records] == ["第一章 总则", "第二章 授信"]
    path.write_text('{"text": "  "}\n', encoding="utf-8")
    (problem,) = read_records(source_for_file(path, formatting="text"))
    assert isinstance(problem, RecordProblem) and "empty" in problem.reason
    conversation = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    assert isinstance(parse_record(conversation), Conversation)


@pytest.mark.slow
def test_import_gates_chosen_and_rejected(workspace_dir: Path, tmp_path: Path) -> None:
    """The privacy gate scans both answers: a number only in the rejected answer is desensitized (and
    the same value in the prompt with it); with the block policy the import is refused."""
    rows = [
        {
            "instruction": f"客户手机{MOBILE}的风险评估",
            "chosen": "该客户风险承受能力中等。",
            "rejected": f"客户身份证号{ID_NUMBER}，可以放贷。",
        }
    ]
    _info(tmp_path, {"ranking": True}, rows)
    cli = ["-w", str(workspace_dir), "data", "import", "--dataset-dir", str(tmp_path), "--dataset", "pairs"]
    blocked = run_cli(*cli, "--privacy", "block")
    assert blocked.returncode == 1 and "blocks it, nothing was imported" in blocked.stderr
    imported = run_cli(*cli)
    assert imported.returncode == 0, imported.stderr
    shown = json.loads(run_cli("-w", str(workspace_dir), "data", "show", "pairs").stdout)
    assert shown["privacy"]["status"] == "desensitized"
    assert shown["privacy"]["report"]["by_type"] == {"id_card": 1, "mobile": 1}
    stored = json.loads((workspace_dir / shown["path"]).read_text(encoding="utf-8"))
    assert stored["kind"] == "preference"
    text = json.dumps(stored, ensure_ascii=False)
    assert ID_NUMBER not in text and MOBILE not in text
    pair = parse_record(stored)
    assert isinstance(pair, PreferencePair) and "<身份证号>" in pair.messages[-1].content
    assert shown["stats"]["records"] == {"preference": 1}


def test_txt_and_md_files_are_one_document_each(tmp_path: Path) -> None:
    manuals = tmp_path / "manuals"
    manuals.mkdir()
    (manuals / "a.md").write_text("# 授信管理办法\n\n第一条 ……\n", encoding="utf-8")
    (manuals / "b.txt").write_text("第二章 风险分类\n第五条 ……\n", encoding="utf-8")
    records = list(read_records(source_for_file(manuals)))
    assert [r.text for r in records] == ["# 授信管理办法\n\n第一条 ……\n", "第二章 风险分类\n第五条 ……\n"]
    gbk = tmp_path / "old.txt"
    gbk.write_bytes("第三章 附则".encode("gbk"))
    (doc,) = read_records(source_for_file(gbk, encoding="gbk"))
    assert doc.text == "第三章 附则"
    # beside record files, a README.md is a note, not data
    (manuals / "data.jsonl").write_text('{"text": "正文"}\n', encoding="utf-8")
    assert [p.name for p in source_for_file(manuals).paths] == ["data.jsonl"]
    # a dataset_info.json entry naming a .txt file reads it as text
    (tmp_path / "dataset_info.json").write_text(json.dumps({"old": {"file_name": "old.txt"}}))
    (source,) = resolve_dataset_info(tmp_path, ["old"], encoding="gbk")
    assert source.formatting == "text"
    (tmp_path / "dataset_info.json").write_text(
        json.dumps({"old": {"file_name": "old.txt", "formatting": "sharegpt"}})
    )
    with pytest.raises(ConfigError, match="plain-text files"):
        resolve_dataset_info(tmp_path, ["old"])
