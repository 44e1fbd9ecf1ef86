"""File readers and record formats: every format from every file type, malformed records, encodings,
and bounded memory while streaming large files."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stockade.core.errors import ConfigError, DependencyMissing
from stockade.data.readers import (
    FORMATS,
    DatasetError,
    TooManyProblems,
    convert_record,
    detect_format,
    read_records,
    source_for_file,
)
from stockade.data.records import Conversation, RecordProblem

ARGUMENTS = '{"to": "Bob", "amount": 10}'
CALL = json.dumps({"name": "transfer", "arguments": json.loads(ARGUMENTS)}, ensure_ascii=False)
RECORDS = {
    "alpaca": [
        {
            "instruction": "Summarise the clause.",
            "input": "The borrower repays monthly.",
            "output": "Monthly repayment.",
            "system": "You are a bank assistant.",
            "history": [["Hi", "Hello! How can I help?"]],
        },
        {
            "instruction": "年利率是多少？",
            "input": "",
            "output": "年利率为3.5%。",
            "system": "",
            "history": [],
        },
    ],
    "sharegpt": [
        {
            "conversations": [
                {"from": "system", "value": "你是银行助理。"},
                {"from": "human", "value": "查询余额"},
                {"from": "function_call", "value": '{"name": "balance", "arguments": {}}'},
                {"from": "observation", "value": '{"balance": 100}'},
                {"from": "gpt", "value": "您的余额是100元。"},
            ],
            "tools": '[{"name": "balance"}]',
        },
        {
            "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}],
            "system": "Be brief.",
        },
    ],
    "messages": [
        {
            "messages": [
                {"role": "system", "content": "S"},
                {"role": "user", "content": "Transfer 10 to Bob"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "transfer", "arguments": ARGUMENTS},
                        }
                    ],
                },
                {"role": "tool", "content": "ok"},
                {"role": "assistant", "content": "Done."},
            ],
            "tools": [{"type": "function", "function": {"name": "transfer"}}],
        },
        {"messages": [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好！"}]},
    ],
}
EXPECTED = {
    "alpaca": [
        [
            ("system", "You are a bank assistant."),
            ("user", "Hi"),
            ("assistant", "Hello! How can I help?"),
            ("user", "Summarise the clause.\nThe borrower repays monthly."),
            ("assistant", "Monthly repayment."),
        ],
        [("user", "年利率是多少？"), ("assistant", "年利率为3.5%。")],
    ],
    "sharegpt": [
        [
            ("system", "你是银行助理。"),
            ("user", "查询余额"),
            ("function_call", '{"name": "balance", "arguments": {}}'),
            ("observation", '{"balance": 100}'),
            ("assistant", "您的余额是100元。"),
        ],
        [("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello")],
    ],
    "messages": [
        [
            ("system", "S"),
            ("user", "Transfer 10 to Bob"),
            ("function_call", CALL),
            ("observation", "ok"),
            ("assistant", "Done."),
        ],
        [("user", "你好"), ("assistant", "你好！")],
    ],
}
EXPECTED_TOOLS = {
    "alpaca": [None, None],
    "sharegpt": ['[{"name": "balance"}]', None],
    "messages": ['[{"type": "function", "function": {"name": "transfer"}}]', None],
}


def write(path: Path, records: list, *, encoding: str = "utf-8") -> Path:
    """Write records in the file type named by the path's suffix."""
    kind = path.suffix
    if kind == ".json":
        path.write_bytes(json.dumps(records, ensure_ascii=False, indent=1).encode(encoding))
    elif kind == ".jsonl":
        path.write_bytes("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode(encoding))
    elif kind == ".csv":
        fields = list(dict.fromkeys(key for record in records for key in record))
        with path.open("w", encoding=encoding, newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=fields)
            writer.writeheader()
            for record in records:
                cells = {
                    k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                    for k, v in record.items()
                }
                writer.writerow(cells)
    elif kind == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        keys = list(dict.fromkeys(key for record in records for key in record))  # from_pylist reads row 0's
        pq.write_table(pa.Table.from_pylist([{key: r.get(key) for key in keys} for r in records]), path)
    return path


def turns(conversation: Conversation) -> list[tuple[str, str]]:
    return [(turn.role, turn.content) for turn in conversation.messages]


def read_all(path: Path, **kwargs) -> list:
    formatting = kwargs.pop("formatting", "auto")
    max_problems = kwargs.pop("max_problems", None)
    return list(
        read_records(source_for_file(path, formatting=formatting, **kwargs), max_problems=max_problems)
    )


@pytest.mark.parametrize("formatting", ["alpaca", "sharegpt", "messages"])
@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".csv", ".parquet"])
@pytest.mark.parametrize("explicit", [True, False], ids=["explicit", "auto"])
def test_every_format_from_every_file_type(tmp_path, formatting, suffix, explicit):
    path = write(tmp_path / f"data{suffix}", RECORDS[formatting])
    items = read_all(path, formatting=formatting if explicit else "auto")
    assert [type(item) for item in items] == [Conversation, Conversation], items
    assert [turns(item) for item in items] == EXPECTED[formatting]
    assert [item.tools for item in items] == EXPECTED_TOOLS[formatting]


MALFORMED = [
    # (formatting, record, field, reason fragment)
    ("alpaca", {"input": "x", "output": "y"}, "instruction", "missing field 'instruction'"),
    ("alpaca", {"instruction": "x"}, "output", "missing field 'output'"),
    ("alpaca", {"instruction": "x", "output": None}, "output", "missing field 'output'"),
    ("alpaca", {"instruction": "x", "output": 42}, "output", "must be text, not a number (42)"),
    ("alpaca", {"instruction": "x", "output": ["a"]}, "output", "must be text, not a list"),
    ("alpaca", {"instruction": 3.5, "output": "y"}, "instruction", "must be text, not a number"),
    ("alpaca", {"instruction": "x", "output": "  \n"}, "output", "'output' is empty"),
    ("alpaca", {"instruction": "", "input": "", "output": "y"}, "instruction", "are both empty"),
    (
        "alpaca",
        {"instruction": "x", "output": "y", "history": [["a"]]},
        "history[0]",
        "pair [instruction, answer]",
    ),
    ("alpaca", {"instruction": "x", "output": "y", "history": "nope"}, "history", "must be a list"),
    ("alpaca", {"instruction": "x", "output": "y", "history": [["a", " "]]}, "history[0]", "answer is empty"),
    ("alpaca", {"instruction": "x", "output": "y", "system": 5}, "system", "must be text"),
    ("alpaca", {"instruction": "x", "output": "y", "tools": "{oops"}, "tools", "not valid JSON"),
    ("alpaca", {"instruction": "x", "output": "y", "tools": 7}, "tools", "JSON text or a list"),
    (
        "alpaca",
        {"instruction": "x", "chosen": "a", "rejected": "b"},
        "output",
        "through a dataset_info.json entry with ranking: true",
    ),
    ("alpaca", ["not", "an object"], None, "must be an object, not a list"),
    ("alpaca", "text", None, "must be an object"),
    ("sharegpt", {}, "conversations", "missing field 'conversations'"),
    ("sharegpt", {"conversations": "hi"}, "conversations", "must be a list of turns"),
    ("sharegpt", {"conversations": ["hi"]}, "conversations[0]", "must be an object"),
    (
        "sharegpt",
        {"conversations": [{"from": "bot", "value": "x"}, {"from": "gpt", "value": "y"}]},
        "conversations[0].from",
        "unknown role 'bot'",
    ),
    ("sharegpt", {"conversations": [{"value": "x"}]}, "conversations[0].from", "missing field 'from'"),
    (
        "sharegpt",
        {"conversations": [{"from": "human", "value": "a"}, {"from": "human", "value": "b"}]},
        "conversations",
        "turns must alternate",
    ),
    ("sharegpt", {"conversations": [{"from": "human", "value": "a"}]}, "conversations", "has 1 turn"),
    ("sharegpt", {"conversations": []}, "conversations", "has 0 turns"),
    (
        "sharegpt",
        {"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": ""}]},
        "conversations",
        "is empty: nothing to learn from",
    ),
    (
        "sharegpt",
        {"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": 7}]},
        "conversations[1].value",
        "must be text",
    ),
    (
        "sharegpt",
        {"conversations": [{"from": "human", "value": "a"}, {"from": "gpt"}]},
        "conversations[1].value",
        "missing field 'value'",
    ),
    (
        "sharegpt",
        {
            "conversations": [
                {"from": "human", "value": "a"},
                {"from": "gpt", "value": "b"},
                {"from": "human", "value": "c"},
            ]
        },
        "conversations",
        "ends with a prompt",
    ),
    (
        "sharegpt",
        {"conversations": [{"from": "human", "value": "a"}, {"from": "system", "value": "s"}]},
        "conversations",
        "system turn may only come first",
    ),
    ("messages", {"messages": [{"role": "bot", "content": "x"}]}, "messages[0].role", "unknown role 'bot'"),
    ("messages", {"messages": [{"content": "x"}]}, "messages[0].role", "missing field 'role'"),
    (
        "messages",
        {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},
        "messages",
        "turns must alternate",
    ),
    (
        "messages",
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": 1}]},
        "messages[1].content",
        "must be text",
    ),
    (
        "messages",
        {
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": [{"type": "image"}]},
            ]
        },
        "messages[1].content",
        "must be text",
    ),
    (
        "messages",
        {
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{x"}}]},
            ]
        },
        "messages[1].tool_calls[0].arguments",
        "not valid JSON",
    ),
    (
        "messages",
        {
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "tool_calls": [{"function": {}}]},
            ]
        },
        "messages[1].tool_calls[0]",
        "needs a function name",
    ),
    (
        "messages",
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "tool_calls": "f"}]},
        "messages[1].tool_calls",
        "must be a list of calls",
    ),
    ("messages", {"messages": {"role": "user"}}, "messages", "must be a list of turns"),
    ("auto", {"question": "x", "answer": "y"}, None, "cannot tell the dataset format"),
]


@pytest.mark.parametrize(("formatting", "record", "field", "reason"), MALFORMED)
def test_malformed_records_become_problems(formatting, record, field, reason):
    result = convert_record(record, formatting, file="f.jsonl", index=7, line=9)
    assert isinstance(result, list) and result, result
    assert all(isinstance(problem, RecordProblem) for problem in result)
    assert (result[0].file, result[0].index, result[0].line) == ("f.jsonl", 7, 9)
    assert any(problem.field == field and reason in problem.reason for problem in result), result


def test_several_problems_of_one_record_are_all_reported():
    result = convert_record({"instruction": 1, "output": []}, "alpaca")
    assert isinstance(result, list)
    assert {problem.field for problem in result} == {"instruction", "output"}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (
            {"instruction": "", "input": "only input", "output": "y"},
            [("user", "only input"), ("assistant", "y")],
        ),
        ({"instruction": "i", "input": None, "output": "y"}, [("user", "i"), ("assistant", "y")]),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                    },
                    {"role": "assistant", "content": "c"},
                ]
            },
            [("user", "ab"), ("assistant", "c")],
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {"function": {"name": "f", "arguments": {}}},
                            {"function": {"name": "g", "arguments": ""}},
                        ],
                    },
                    {"role": "tool", "content": "1"},
                    {"role": "tool", "content": "2"},
                    {"role": "assistant", "content": "done"},
                ]
            },
            [
                ("user", "q"),
                ("function_call", '[{"name": "f", "arguments": {}}, {"name": "g", "arguments": {}}]'),
                ("observation", "1\n2"),
                ("assistant", "done"),
            ],
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "function_call": {"name": "f", "arguments": '{"a": 1}'}},
                    {"role": "observation", "content": "r"},
                    {"role": "assistant", "content": "ok"},
                ]
            },
            [
                ("user", "q"),
                ("function_call", '{"name": "f", "arguments": {"a": 1}}'),
                ("observation", "r"),
                ("assistant", "ok"),
            ],
        ),
        (
            {
                "conversations": [
                    {"from": "system", "value": "turn wins"},
                    {"from": "human", "value": "q"},
                    {"from": "gpt", "value": "a"},
                ],
                "system": "column loses",
            },
            [("system", "turn wins"), ("user", "q"), ("assistant", "a")],
        ),
    ],
)
def test_conversion_follows_llamafactory(record, expected):
    result = convert_record(record, "auto")
    assert isinstance(result, Conversation), result
    assert turns(result) == expected


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"instruction": "a", "output": "b"}, "alpaca"),
        ({"output": "b"}, "alpaca"),
        ({"conversations": []}, "sharegpt"),
        ({"messages": []}, "messages"),
        ({"conversations": [], "instruction": "x"}, "sharegpt"),
    ],
)
def test_detect_format(row, expected):
    assert detect_format(row) == expected


@pytest.mark.parametrize("row", [{"question": "q"}, {}, ["instruction"], None])
def test_detect_format_refuses_unknown_shapes(row):
    with pytest.raises(ConfigError, match="cannot tell the dataset format"):
        detect_format(row)


def test_formats_are_registered_by_name():
    assert FORMATS.names() == ["alpaca", "messages", "sharegpt", "text"]
    with pytest.raises(ConfigError, match="did you mean 'alpaca'"):
        FORMATS.get("alpacca")


def test_auto_detection_is_per_file_and_later_mismatches_are_problems(tmp_path):
    path = write(tmp_path / "mixed.jsonl", [{"question": "?"}, RECORDS["alpaca"][1], RECORDS["sharegpt"][1]])
    items = read_all(path)
    assert [type(item) for item in items] == [RecordProblem, Conversation, RecordProblem]
    assert "cannot tell the dataset format" in items[0].reason
    assert items[2].index == 2
    assert "looks like sharegpt, but the file is alpaca (detected from record 1)" in items[2].reason


def test_jsonl_bad_line_is_a_problem_naming_the_line_and_reading_goes_on(tmp_path):
    good = json.dumps(RECORDS["alpaca"][1], ensure_ascii=False)
    path = tmp_path / "data.jsonl"
    path.write_text(f"{good}\n\n{{bad json\n   \n{good}\n", encoding="utf-8")
    items = read_all(path)
    assert [type(item) for item in items] == [Conversation, RecordProblem, Conversation]
    assert (items[1].index, items[1].line) == (1, 3)
    assert "invalid JSON" in items[1].reason
    assert "record 1 (line 3)" in items[1].render()


def test_csv_row_with_extra_fields_is_a_problem(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("instruction,output\na,b\nc,d,e\nf,g\n", encoding="utf-8")
    items = read_all(path)
    assert [type(item) for item in items] == [Conversation, RecordProblem, Conversation]
    assert (items[1].index, items[1].line) == (1, 3)
    assert "more fields than the header" in items[1].reason


def test_truncated_json_array_is_a_clear_error_after_the_good_records(tmp_path):
    path = tmp_path / "data.json"
    text = json.dumps([RECORDS["alpaca"][1]] * 3, ensure_ascii=False)
    path.write_text(text[:-25], encoding="utf-8")
    seen = []
    with pytest.raises(
        DatasetError, match=r"invalid JSON at line 1, column \d+ \(after record 1\)"
    ) as caught:
        seen.extend(read_records(source_for_file(path)))
    assert len(seen) == 2 and all(isinstance(item, Conversation) for item in seen)
    assert "truncated" in str(caught.value) and str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "line", "column", "what", "shown"),
    [
        # issue 15 item 2: a hand-edited file with a trailing comma, Chinese text on the line
        (
            '[\n  {"instruction": "年利率？", "output": "3%"},\n'
            '  {"instruction": "再见", "output": "见"},\n]\n',
            3,
            39,
            "a comma after the last item of a list",
            '  {"instruction": "再见", "output": "见"},',
        ),
        (
            '[{"instruction": "你好", "output": "好",}]',
            1,
            37,
            "a comma after the last item of an object",
            None,
        ),
        ('[{"instruction": "你好" "output": "好"}]', 1, 23, "Expecting ',' delimiter", None),
    ],
)
def test_json_syntax_error_names_line_and_column_and_shows_the_line(
    tmp_path, text, line, column, what, shown
):
    path = tmp_path / "data.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DatasetError) as caught:
        read_all(path)
    error = caught.value
    assert error.where == f"{path}:{line}:{column}"
    assert f"invalid JSON at line {line}, column {column}" in error.what and what in error.what
    excerpt, caret = error.what.splitlines()[-2:]
    assert excerpt.strip() == (shown or text.splitlines()[line - 1]).strip()
    assert caret.strip() == "^" and "\\x" not in error.what and "\\u" not in error.what
    if "comma" in what:
        assert error.fix == "delete that comma"


def test_misspelt_field_gets_did_you_mean_naming_the_key_found(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"instrution": "年利率？", "output": "3%"}\n', encoding="utf-8")
    (problem,) = read_all(path)
    assert isinstance(problem, RecordProblem) and problem.field == "instruction"
    assert "missing field 'instruction'; the record has 'instrution' (did you mean 'instruction'?)" in (
        problem.reason
    )


def test_missing_field_without_a_lookalike_has_no_suggestion():
    (problem,) = convert_record({"input": "x", "output": "y"}, "alpaca")
    assert problem.reason == "missing field 'instruction'"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"data": [{"instruction": "a",\n "output": "b"}]}', "top-level JSON value is an object"),
        ("", "the file is empty"),
        ("  \n ", "the file is empty"),
        ("42", "not a JSON list of records"),
    ],
)
def test_json_file_that_is_not_a_list_is_refused(tmp_path, content, message):
    path = tmp_path / "data.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError, match=re.escape(message)):
        read_all(path)


def test_json_lines_under_a_json_name_are_read(tmp_path):
    path = tmp_path / "data.json"
    write(tmp_path / "data.jsonl", RECORDS["alpaca"]).rename(path)
    assert [turns(item) for item in read_all(path)] == EXPECTED["alpaca"]


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".csv"])
def test_utf8_bom_is_accepted(tmp_path, suffix):
    path = write(tmp_path / f"data{suffix}", RECORDS["alpaca"], encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert [turns(item) for item in read_all(path)] == EXPECTED["alpaca"]


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".csv"])
def test_gbk_file_is_refused_with_the_encoding_hint(tmp_path, suffix):
    path = write(tmp_path / f"data{suffix}", RECORDS["alpaca"], encoding="gbk")
    with pytest.raises(DatasetError) as caught:
        read_all(path)
    text = str(caught.value)
    assert "looks GBK-encoded" in text
    assert "--encoding gbk" in text and "iconv -f GBK -t UTF-8" in text


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "GBK", "cp936"])
@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".csv"])
def test_gbk_file_is_converted_when_asked(tmp_path, suffix, encoding):
    path = write(tmp_path / f"data{suffix}", RECORDS["alpaca"], encoding="gbk")
    assert [turns(item) for item in read_all(path, encoding=encoding)] == EXPECTED["alpaca"]


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_gbk_after_the_checked_prefix_names_offset_and_line(tmp_path, suffix):
    ascii_records = [{"instruction": f"question {n}", "output": "answer " * 10} for n in range(2000)]
    path = write(tmp_path / f"data{suffix}", [*ascii_records, RECORDS["alpaca"][1]], encoding="gbk")
    data = path.read_bytes()
    offset = next(position for position, byte in enumerate(data) if byte > 0x7F)
    assert offset > 2 * 65536
    seen = []
    with pytest.raises(DatasetError, match="looks GBK-encoded") as caught:
        seen.extend(read_records(source_for_file(path)))
    assert len(seen) >= 1000
    text = str(caught.value)
    line = data.count(b"\n", 0, offset) + 1
    assert f"byte offset {offset}, line {line})" in text
    assert "--encoding gbk" in text


def test_gbk_late_in_jsonl_names_the_exact_line(tmp_path):
    ascii_records = [{"instruction": f"question {n}", "output": "answer " * 10} for n in range(2000)]
    path = write(tmp_path / "data.jsonl", [*ascii_records, RECORDS["alpaca"][1]], encoding="gbk")
    with pytest.raises(DatasetError, match="line 2001"):
        read_all(path)


@pytest.mark.parametrize("text", ["café crème", "Ünïcode façade"])
def test_other_non_utf8_bytes_are_refused_without_claiming_gbk(tmp_path, text):
    path = tmp_path / "data.jsonl"
    path.write_bytes(json.dumps({"instruction": text, "output": "x"}, ensure_ascii=False).encode("latin-1"))
    with pytest.raises(DatasetError, match="not valid UTF-8") as caught:
        read_all(path)
    assert "GBK-encoded" not in str(caught.value)


def test_utf8_file_read_as_gbk_is_refused(tmp_path):
    path = write(tmp_path / "data.jsonl", RECORDS["alpaca"])
    with pytest.raises(DatasetError, match="already UTF-8"):
        read_all(path, encoding="gbk")


def test_unsupported_encoding_is_a_config_error(tmp_path):
    path = write(tmp_path / "data.jsonl", RECORDS["alpaca"])
    with pytest.raises(ConfigError, match="unsupported encoding 'latin-1'"):
        source_for_file(path, encoding="latin-1")


def test_max_problems_stops_with_a_clear_error(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(["{bad"] * 5 + ['{"instruction": "a", "output": "b"}']), encoding="utf-8")
    assert len([item for item in read_all(path) if isinstance(item, RecordProblem)]) == 5
    seen = []
    with pytest.raises(TooManyProblems, match="more than 2 problems"):
        seen.extend(read_records(source_for_file(path), max_problems=2))
    assert len(seen) == 2


def test_parquet_without_pyarrow_names_the_install(tmp_path, monkeypatch):
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(DependencyMissing, match="pip install pyarrow"):
        read_all(path)


def test_corrupt_parquet_is_a_dataset_error(tmp_path):
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DatasetError, match="cannot read the Parquet file"):
        read_all(path)


def test_source_for_a_folder_reads_its_supported_files_sorted(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    write(folder / "b.jsonl", RECORDS["alpaca"][1:])
    write(folder / "a.json", RECORDS["alpaca"][:1])
    (folder / "notes.txt").write_text("not data", encoding="utf-8")
    source = source_for_file(folder)
    assert [path.name for path in source.paths] == ["a.json", "b.jsonl"]
    assert [turns(item) for item in read_records(source)] == EXPECTED["alpaca"]


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("missing.jsonl", {}, "file not found"),
        ("notes.docx", {}, "unsupported file type '.docx'"),
        ("data.jsonl", {"formatting": "openai"}, "unknown dataset formatting 'openai'"),
    ],
)
def test_source_for_file_refusals(tmp_path, name, kwargs, message):
    write(tmp_path / "data.jsonl", RECORDS["alpaca"])
    (tmp_path / "notes.docx").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        source_for_file(tmp_path / name, **kwargs)


PEAK_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from stockade.data.readers import read_records, source_for_file
    from stockade.data.records import Conversation
    source = source_for_file(sys.argv[1])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    count = 0
    for item in read_records(source):
        assert isinstance(item, Conversation), item
        count += 1
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"count": count, "growth_kib": after - before}))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_streaming_a_50_mb_file_keeps_memory_bounded(tmp_path, suffix):
    record = {
        "instruction": "请总结这份贷款合同。" * 20,
        "input": "x" * 1200,
        "output": "The contract says: " * 30,
    }
    line = json.dumps(record, ensure_ascii=False)
    count = 50 * 1024 * 1024 // (len(line.encode()) + 2) + 1
    path = tmp_path / f"big{suffix}"
    with path.open("w", encoding="utf-8") as stream:
        if suffix == ".jsonl":
            stream.writelines(line + "\n" for _ in range(count))
        else:
            stream.write("[\n" + ",\n".join(line for _ in range(count)) + "\n]")
    assert path.stat().st_size > 50 * 1000 * 1000
    done = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["count"] == count
    assert result["growth_kib"] < 30 * 1024, result
