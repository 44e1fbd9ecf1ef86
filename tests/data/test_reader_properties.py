"""Properties: every valid record converts; any JSON value yields a Conversation or problems, never an
exception; streaming from a file gives the same answer as converting record by record."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockade.data.readers import DatasetError, convert_record, read_records, source_for_file
from stockade.data.records import Conversation, RecordProblem

CHINESE = "银行贷款利率账户余额转账请问您好谢谢合同条款风险合规，。？！：“”"
LETTERS = "abcXYZ019"
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

any_text = st.text(
    alphabet=st.sampled_from(CHINESE + LETTERS + " \n\t") | st.characters(codec="utf-8"), max_size=20
)
solid = st.builds(
    lambda head, tail: head + tail, st.sampled_from(CHINESE + LETTERS), any_text
)  # at least one visible character, so never empty as an answer

pairs = st.lists(st.tuples(any_text, solid).map(list), max_size=3)


@st.composite
def alpaca_records(draw):
    instruction, query = draw(any_text), draw(any_text)
    if not (instruction or query):
        instruction = draw(solid)
    record = {"instruction": instruction, "input": query, "output": draw(solid)}
    if draw(st.booleans()):
        record["system"] = draw(any_text)
    if draw(st.booleans()):
        record["history"] = draw(pairs)
    return record


@st.composite
def alternating(draw, prompts: tuple[str, str], answers: tuple[str, str]):
    """(role, text) turns: prompt/answer pairs, the first prompt a user turn."""
    count = draw(st.integers(1, 4))
    turns = []
    for position in range(count):
        prompt = prompts[0] if position == 0 else draw(st.sampled_from(prompts))
        turns += [(prompt, draw(any_text)), (draw(st.sampled_from(answers)), draw(solid))]
    return turns


@st.composite
def sharegpt_records(draw):
    turns = draw(alternating(("human", "observation"), ("gpt", "function_call")))
    if draw(st.booleans()):
        turns.insert(0, ("system", draw(any_text)))
    record = {"conversations": [{"from": tag, "value": text} for tag, text in turns]}
    if draw(st.booleans()):
        record["tools"] = json.dumps([{"name": draw(solid)}], ensure_ascii=False)
    return record


@st.composite
def messages_records(draw):
    turns = draw(alternating(("user", "tool"), ("assistant", "tool_call")))
    messages = []
    for role, text in turns:
        if role == "tool_call":
            call = {"function": {"name": text, "arguments": json.dumps({"q": text}, ensure_ascii=False)}}
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        else:
            messages.append({"role": role, "content": text})
    if draw(st.booleans()):
        messages.insert(0, {"role": "system", "content": draw(any_text)})
    return {"messages": messages}


@SETTINGS
@given(alpaca_records())
def test_valid_alpaca_records_convert(record):
    result = convert_record(record, "alpaca")
    assert isinstance(result, Conversation), result
    prompt = "\n".join(part for part in (record["instruction"], record["input"]) if part)
    assert [(t.role, t.content) for t in result.turns[-2:]] == [
        ("user", prompt),
        ("assistant", record["output"]),
    ]
    assert len(result.turns) == 2 * len(record.get("history", [])) + 2
    assert result.system == (record.get("system") or None)


@SETTINGS
@given(sharegpt_records())
def test_valid_sharegpt_records_convert(record):
    result = convert_record(record, "sharegpt")
    assert isinstance(result, Conversation), result
    assert [t.content for t in result.messages] == [
        turn["value"] for turn in record["conversations"] if turn["value"] or turn["from"] != "system"
    ]
    assert result.tools == record.get("tools")


@SETTINGS
@given(messages_records())
def test_valid_messages_records_convert(record):
    result = convert_record(record, "auto")
    assert isinstance(result, Conversation), result
    calls = [turn for turn in result.turns if turn.role == "function_call"]
    assert len(calls) == sum(1 for message in record["messages"] if message.get("tool_calls"))
    assert all(json.loads(turn.content)["name"] for turn in calls)


json_values = st.recursive(
    # JSON integers within int64: the C JSON parser refuses larger ones (test_huge_integer_* covers that).
    st.none()
    | st.booleans()
    | st.integers(-(2**62), 2**62)
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "instruction",
                    "input",
                    "output",
                    "system",
                    "history",
                    "tools",
                    "conversations",
                    "messages",
                    "from",
                    "value",
                    "role",
                    "content",
                    "tool_calls",
                    "function",
                    "name",
                    "arguments",
                    "chosen",
                ]
            )
            | any_text,
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)
shaped = alpaca_records() | sharegpt_records() | messages_records()


@st.composite
def mutated(draw):
    """A valid record with one value replaced by an arbitrary JSON value."""
    record = draw(shaped)
    key = draw(st.sampled_from(sorted(record)))
    record[key] = draw(json_values)
    return record


@SETTINGS
@given(json_values | mutated(), st.sampled_from(["alpaca", "sharegpt", "messages", "auto"]))
def test_any_json_value_gives_a_conversation_or_problems(value, formatting):
    result = convert_record(value, formatting, file="x.jsonl", index=3)
    if not isinstance(result, Conversation):
        assert result and all(isinstance(problem, RecordProblem) for problem in result), result
        assert all(problem.index == 3 and problem.reason for problem in result)


@settings(max_examples=25, deadline=None)
@given(st.lists(shaped | json_values, min_size=1, max_size=8), st.sampled_from([".jsonl", ".json", ".csv"]))
def test_streaming_a_file_matches_record_by_record_conversion(records, suffix):
    if suffix == ".csv":  # a CSV cell is text: flatten each record to one column of JSON
        records = [{"conversations": json.dumps(r, ensure_ascii=False)} for r in records]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data{suffix}"
        if suffix == ".json":
            path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
        elif suffix == ".jsonl":
            path.write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
            )
        else:
            import csv

            with path.open("w", encoding="utf-8", newline="") as stream:
                writer = csv.DictWriter(stream, fieldnames=["conversations"])
                writer.writeheader()
                writer.writerows(records)
        formatting = "sharegpt" if suffix == ".csv" else "messages"
        streamed = list(read_records(source_for_file(path, formatting=formatting)))
    expected = []
    for index, record in enumerate(records):
        result = convert_record(record, formatting, file=str(path), index=index)
        expected += [result] if isinstance(result, Conversation) else result
    if suffix != ".json":  # lines are known for JSONL/CSV, not for JSON arrays
        streamed = [item if isinstance(item, Conversation) else _without_line(item) for item in streamed]
    assert streamed == expected


def _without_line(problem: RecordProblem) -> RecordProblem:
    return RecordProblem(file=problem.file, index=problem.index, reason=problem.reason, field=problem.field)


def test_huge_integer_in_a_json_array_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(
        '[{"instruction": "a", "input": "", "output": "b", "id": 123456789012345678901234567890}]'
    )
    with pytest.raises(DatasetError, match=r"(?s)invalid JSON.*does not fit in 64 bits"):
        list(read_records(source_for_file(path)))
