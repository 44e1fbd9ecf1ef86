"""``stockade task check NAME FILE``: does a dataset file follow a preset's schema (before import and
training)? Every record must read as a conversation, and every answer turn must follow the preset's
output format (labels among the fixed ones and known rules; every section and a grade; tool calls as
function_call turns naming the preset's tools)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from stockade.data.readers import read_records, source_for_file
from stockade.data.records import TRAINED_ROLES, Conversation
from stockade.tasks.parsers import reference_problems
from stockade.tasks.presets import load_preset


@dataclass
class CheckResult:
    records: int = 0
    problems: list[str] = field(default_factory=list)


def check_file(name: str, path: Path, *, formatting: str | None = None) -> CheckResult:
    preset = load_preset(name)
    source = source_for_file(path, formatting=formatting or preset.format)
    result, next_index = CheckResult(), 0
    for item in read_records(source):
        if not isinstance(item, Conversation):
            result.problems.append(item.render())
            next_index = item.index + 1
            continue
        index, next_index = next_index, next_index + 1
        result.records += 1
        for position, turn in enumerate(item.messages):
            if turn.role in TRAINED_ROLES:
                for problem in reference_problems(preset, turn.content, turn.role):
                    result.problems.append(f"{path}: record {index}, message {position}: {problem}")
    return result
