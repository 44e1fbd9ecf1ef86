"""LLaMA-Factory dataset_info.json: the real demo entries read cleanly; everything that would download
(or that Stockade does not train on) is refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stockade.core.errors import ConfigError
from stockade.data.readers import read_records, resolve_dataset_info
from stockade.data.records import Conversation, RecordProblem
from tests.conftest import LLAMAFACTORY_DATA

INFO = json.loads((LLAMAFACTORY_DATA / "dataset_info.json").read_text(encoding="utf-8"))
LOCAL = sorted(
    name
    for name, entry in INFO.items()
    if "file_name" in entry
    and (LLAMAFACTORY_DATA / entry["file_name"]).is_file()
    and not entry.get("ranking")
)
HUB = sorted(name for name, entry in INFO.items() if {"hf_hub_url", "ms_hub_url", "om_hub_url"} & set(entry))


def test_the_fixture_holds_the_expected_local_demos():
    assert LOCAL == ["alpaca_en_demo", "alpaca_zh_demo", "glaive_toolcall_zh_demo", "identity"]
    assert len(HUB) > 50


@pytest.mark.parametrize("name", LOCAL)
def test_local_demo_entries_read_without_problems(name):
    [source] = resolve_dataset_info(LLAMAFACTORY_DATA, [name])
    expected = len(json.loads((LLAMAFACTORY_DATA / INFO[name]["file_name"]).read_text(encoding="utf-8")))
    items = list(read_records(source))
    problems = [item.render() for item in items if isinstance(item, RecordProblem)]
    assert problems == []
    assert len(items) == expected
    assert source.name == name and source.origin == str(LLAMAFACTORY_DATA / "dataset_info.json")


def test_alpaca_demo_records_match_the_file():
    [source] = resolve_dataset_info(LLAMAFACTORY_DATA, ["alpaca_zh_demo"])
    raw = json.loads((LLAMAFACTORY_DATA / "alpaca_zh_demo.json").read_text(encoding="utf-8"))
    for record, conversation in zip(raw, read_records(source), strict=True):
        prompt = "\n".join(part for part in (record["instruction"], record["input"]) if part)
        assert [(t.role, t.content) for t in conversation.messages] == [
            ("user", prompt),
            ("assistant", record["output"]),
        ]


def test_glaive_toolcall_demo_keeps_tools_and_tool_turns():
    [source] = resolve_dataset_info(LLAMAFACTORY_DATA, ["glaive_toolcall_zh_demo"])
    assert (source.formatting, source.columns) == (
        "sharegpt",
        {"messages": "conversations", "tools": "tools"},
    )
    raw = json.loads((LLAMAFACTORY_DATA / "glaive_toolcall_zh_demo.json").read_text(encoding="utf-8"))
    roles = {
        "human": "user",
        "gpt": "assistant",
        "function_call": "function_call",
        "observation": "observation",
    }
    for record, conversation in zip(raw, read_records(source), strict=True):
        assert isinstance(conversation, Conversation)
        assert conversation.tools == (record["tools"] or None)
        assert [(t.role, t.content) for t in conversation.messages] == [
            (roles[turn["from"]], turn["value"]) for turn in record["conversations"]
        ]
    assert any(
        turn.role == "function_call" for conversation in read_records(source) for turn in conversation.turns
    )


def expected_refusal(entry: dict) -> str:
    """What Stockade must say about a non-local entry, decided from the entry's keys alone."""
    columns = entry.get("columns", {})
    if {"hf_hub_url", "ms_hub_url", "om_hub_url"} & set(entry):
        return "points to the hub"
    if "script_url" in entry:
        return "points to a loading script"
    if {"images", "videos", "audios"} & set(columns):
        return "is multimodal"
    # preference (ranking, kto_tag) and pre-training entries are read (tests/data/test_preference_import.py);
    # their files are not in this folder
    return "file not found"


@pytest.mark.parametrize("name", sorted(set(INFO) - set(LOCAL)))
def test_every_other_entry_is_refused_by_name(name):
    with pytest.raises(ConfigError) as caught:
        resolve_dataset_info(LLAMAFACTORY_DATA, [name])
    text = str(caught.value)
    assert f"dataset {name!r} in {LLAMAFACTORY_DATA / 'dataset_info.json'}" in text
    assert expected_refusal(INFO[name]) in text


@pytest.mark.parametrize(
    ("name", "fragments"),
    [
        (
            "alpaca_en",
            [
                "hf_hub_url: llamafactory/alpaca_en",
                "om_hub_url: HaM/alpaca_en",
                "never downloads",
                f"copy the file into {LLAMAFACTORY_DATA} and set file_name",
            ],
        ),
        ("deepctrl", ["(ms_hub_url: deepctrl/deepctrl-sft-data)", "never downloads"]),
        (
            "glaive_toolcall_en_demo",
            ["file not found", str(LLAMAFACTORY_DATA / "glaive_toolcall_en_demo.json")],
        ),
        ("mllm_demo", ["is multimodal (images: images)"]),
        ("mllm_video_audio_demo", ["videos: videos, audios: audios"]),
        ("dpo_en_demo", ["file not found", str(LLAMAFACTORY_DATA / "dpo_en_demo.json")]),
        ("c4_demo", ["file not found", str(LLAMAFACTORY_DATA / "c4_demo.jsonl")]),
    ],
)
def test_refusal_messages_name_the_reason(name, fragments):
    with pytest.raises(ConfigError) as caught:
        resolve_dataset_info(LLAMAFACTORY_DATA, [name])
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert caught.value.exit_code == 2


def test_unknown_name_suggests_close_names_and_lists_the_available_ones():
    with pytest.raises(ConfigError) as caught:
        resolve_dataset_info(LLAMAFACTORY_DATA, ["identity", "alpaca_en_dem"])
    text = str(caught.value)
    assert "unknown dataset 'alpaca_en_dem'" in text
    assert "did you mean 'alpaca_en_demo'" in text
    assert "available: " in text and "glaive_toolcall_zh_demo" in text


def make_info(tmp_path: Path, entries: dict, files: dict[str, object] | None = None) -> Path:
    (tmp_path / "dataset_info.json").write_text(json.dumps(entries), encoding="utf-8")
    for name, records in (files or {}).items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".jsonl"):
            path.write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
            )
        else:
            path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"file_name": "https://example.com/data.json"}, "points to a URL (file_name: https://example.com"),
        ({"file_name": "s3://bucket/data.json"}, "points to a URL"),
        ({"script_url": "my_script"}, "points to a loading script (script_url: my_script)"),
        ({"cloud_file_name": "s3://b/d.json"}, "points to cloud storage (cloud_file_name: s3://b/d.json)"),
        ({"om_hub_url": "x/y"}, "points to the hub (om_hub_url: x/y)"),
        ({"file_name": "d.json", "hf_hub_url": "x/y"}, "points to the hub (hf_hub_url: x/y)"),
        ({"load_from": "hf_hub", "file_name": "d.json"}, "loads from 'hf_hub'"),
        ({"formatting": "sharegpt"}, "has no file_name"),
        ({"file_name": "d.json", "formatting": "chatml"}, "unknown formatting 'chatml'"),
        ({"file_name": "d.json", "columns": {"promt": "q", "response": "a"}}, "did you mean 'prompt'"),
        ({"file_name": "d.json", "tags": {"role": "from"}}, "unknown tags key 'role'"),
        ({"file_name": "d.json", "columns": {"response": 3}}, "has invalid columns"),
        ({"file_name": "d.json", "split": "validation"}, "asks for split 'validation'"),
        ({"file_name": "d.json", "num_samples": 0}, "num_samples 0"),
        ({"file_name": "d.json", "columns": {"response": "a", "chosen": "c"}}, "without ranking: true"),
        ({"file_name": "notes.docx"}, "unsupported file type '.docx'"),
        ({"file_name": "empty_dir"}, "holds no data files"),
        (["not", "an", "object"], "must be an object"),
    ],
)
def test_entry_refusals(tmp_path, entry, message):
    data_dir = make_info(tmp_path, {"mine": entry}, {"d.json": [{"instruction": "a", "output": "b"}]})
    (data_dir / "notes.docx").write_text("x", encoding="utf-8")
    (data_dir / "empty_dir").mkdir()
    with pytest.raises(ConfigError) as caught:
        resolve_dataset_info(data_dir, ["mine"])
    assert "dataset 'mine' in " in str(caught.value)
    assert message in str(caught.value)


def test_missing_or_broken_dataset_info_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"no dataset_info\.json in"):
        resolve_dataset_info(tmp_path, ["x"])
    (tmp_path / "dataset_info.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid UTF-8 JSON"):
        resolve_dataset_info(tmp_path, ["x"])


def test_folder_entry_reads_all_supported_files_sorted(tmp_path):
    data_dir = make_info(
        tmp_path,
        {"parts": {"file_name": "parts"}},
        {
            "parts/b.jsonl": [{"instruction": "b", "output": "B"}],
            "parts/a.json": [{"instruction": "a", "output": "A"}, {"instruction": "a2", "output": "A2"}],
        },
    )
    (data_dir / "parts" / "README.md").write_text("not data", encoding="utf-8")
    [source] = resolve_dataset_info(data_dir, ["parts"])
    assert [path.name for path in source.paths] == ["a.json", "b.jsonl"]
    assert [conversation.messages[0].content for conversation in read_records(source)] == ["a", "a2", "b"]


def test_alpaca_columns_replace_the_defaults_as_in_llamafactory(tmp_path):
    record = {"question": "Q", "input": "ignored: no query column", "answer": "A", "system_prompt": "S"}
    data_dir = make_info(
        tmp_path,
        {
            "orca": {
                "file_name": "o.json",
                "columns": {"prompt": "question", "response": "answer", "system": "system_prompt"},
                "num_samples": 5,
            }
        },
        {"o.json": [record]},
    )
    [source] = resolve_dataset_info(data_dir, ["orca"])
    assert source.num_samples == 5
    [conversation] = read_records(source)
    assert [(t.role, t.content) for t in conversation.messages] == [
        ("system", "S"),
        ("user", "Q"),
        ("assistant", "A"),
    ]


def test_sharegpt_tags_and_openai_formatting(tmp_path):
    messages = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "问"},
        {"role": "assistant", "content": "答"},
    ]
    tags = {
        "role_tag": "role",
        "content_tag": "content",
        "user_tag": "user",
        "assistant_tag": "assistant",
        "system_tag": "system",
    }
    data_dir = make_info(
        tmp_path,
        {
            "tagged": {
                "file_name": "m.jsonl",
                "formatting": "sharegpt",
                "columns": {"messages": "messages"},
                "tags": tags,
            },
            "untagged_system": {
                "file_name": "m.jsonl",
                "formatting": "sharegpt",
                "columns": {"messages": "messages"},
                "tags": {k: v for k, v in tags.items() if k != "system_tag"},
            },
            "openai": {"file_name": "m.jsonl", "formatting": "openai"},
        },
        {"m.jsonl": [{"messages": messages}]},
    )
    tagged, untagged, openai = resolve_dataset_info(data_dir, ["tagged", "untagged_system", "openai"])
    expected = [("system", "S"), ("user", "问"), ("assistant", "答")]
    assert [(t.role, t.content) for t in next(iter(read_records(tagged))).messages] == expected
    assert openai.formatting == "messages"
    assert [(t.role, t.content) for t in next(iter(read_records(openai))).messages] == expected
    # LLaMA-Factory: given tags replace the defaults, so without system_tag a system turn is unknown
    [problem] = read_records(untagged)
    assert isinstance(problem, RecordProblem)
    assert (problem.field, problem.reason.split(" (")[0]) == ("messages[0].role", "unknown role 'system'")


def test_encoding_applies_to_every_resolved_source(tmp_path):
    data_dir = make_info(tmp_path, {"zh": {"file_name": "zh.jsonl"}})
    (data_dir / "zh.jsonl").write_bytes(
        json.dumps({"instruction": "年利率", "output": "百分之三"}, ensure_ascii=False).encode("gbk")
    )
    [source] = resolve_dataset_info(data_dir, ["zh"], encoding="gbk")
    [conversation] = read_records(source)
    assert conversation.messages[1].content == "百分之三"
