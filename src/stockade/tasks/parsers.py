"""Read a model's answer (or a reference) in a preset's output format, and check references against it.

The same parser reads references and predictions, so a prediction is scored exactly as the training
data defines the format. Nothing here guesses: text that does not follow the format parses to
``None`` fields (and counts as wrong in the metrics).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from stockade.tasks.presets import ReportParser, ServiceParser, TaskPreset, VerdictParser

_TRAILING = " \t。．.，,；;！!"


def _after_prefix(text: str, prefix: str) -> str | None:
    """The rest of the first line that starts with ``prefix`` (a full-width or ASCII colon either way)."""
    wanted = prefix.replace("：", ":")
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.replace("：", ":").startswith(wanted):
            return stripped[len(prefix) :].strip()
    return None


@dataclass(frozen=True)
class Verdict:
    label: str | None
    rules: tuple[str, ...] = ()


def parse_verdict(config: VerdictParser, text: str) -> Verdict:
    value = _after_prefix(text, config.verdict_prefix)
    label = value.strip(_TRAILING) if value is not None else None
    rules_line = _after_prefix(text, config.rules_prefix)
    rules = tuple(dict.fromkeys(re.findall(config.rule_pattern, rules_line or "")))
    return Verdict(label if label in config.labels else None, rules)


@dataclass(frozen=True)
class Report:
    sections: dict[str, str] = field(default_factory=dict)
    grade: str | None = None


def parse_report(config: ReportParser, text: str) -> Report:
    """``【NAME】`` opens a section that runs to the next ``【...】`` heading of a known section."""
    names = "|".join(re.escape(name) for name in config.sections)
    parts = re.split(f"【({names})】", text)
    sections: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        sections.setdefault(name, body.strip())
    graded = sections.get(config.grade_section, "")
    grade = next((g for g in sorted(config.grades, key=len, reverse=True) if graded.startswith(g)), None)
    return Report(sections, grade)


@dataclass(frozen=True)
class ServiceAnswer:
    kind: str  # "tool_call" | "handoff" | "reply"
    calls: tuple[tuple[str, str], ...] = ()  # (name, canonical JSON of the arguments)


def _canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _calls(text: str) -> tuple[tuple[str, str], ...] | None:
    body = text.strip()
    for opening, closing in (("<tool_call>", "</tool_call>"), ("```json", "```")):
        if body.startswith(opening) and body.endswith(closing):
            body = body[len(opening) : -len(closing)].strip()
    if not body.startswith(("{", "[")):
        return None
    try:
        value = json.loads(body)
    except json.JSONDecodeError:
        return None
    items = value if isinstance(value, list) else [value]
    calls = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return None
        arguments = item.get("arguments", {})
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError:
                return None
        if not isinstance(arguments, dict):
            return None
        calls.append((item["name"], _canonical(arguments)))
    return tuple(calls) or None


def parse_service(config: ServiceParser, text: str) -> ServiceAnswer:
    calls = _calls(text)
    if calls is not None:
        return ServiceAnswer("tool_call", calls)
    if text.strip().startswith(config.handoff_marker):
        return ServiceAnswer("handoff")
    return ServiceAnswer("reply")


def parse(preset: TaskPreset, text: str) -> Verdict | Report | ServiceAnswer:
    config = preset.parser
    if isinstance(config, VerdictParser):
        return parse_verdict(config, text)
    if isinstance(config, ReportParser):
        return parse_report(config, text)
    return parse_service(config, text)


def reference_problems(preset: TaskPreset, answer: str, role: str) -> list[str]:
    """Why a reference answer (the last turn of a record) does not follow the preset's format."""
    config, parsed = preset.parser, parse(preset, answer)
    if isinstance(parsed, Verdict):
        assert isinstance(config, VerdictParser)
        problems = []
        if parsed.label is None:
            problems.append(
                f"no line '{config.verdict_prefix}LABEL' with a label among {', '.join(config.labels)}"
            )
        unknown = [rule for rule in parsed.rules if preset.rules and rule not in preset.rules]
        if unknown:
            problems.append(f"cites unknown rules {', '.join(unknown)} (known: {', '.join(preset.rules)})")
        return problems
    if isinstance(parsed, Report):
        assert isinstance(config, ReportParser)
        missing = [name for name in config.sections if not parsed.sections.get(name)]
        problems = [f"missing or empty sections: {', '.join(f'【{n}】' for n in missing)}"] if missing else []
        if parsed.grade is None and config.grade_section not in missing:
            problems.append(
                f"【{config.grade_section}】 does not start with one of {', '.join(config.grades)}"
            )
        return problems
    if role == "function_call":
        if parsed.kind != "tool_call":
            return ['a function_call turn must be JSON {"name": ..., "arguments": {...}}']
        unknown = [name for name, _ in parsed.calls if name not in preset.tool_names]
        return [f"calls unknown tools {', '.join(unknown)}"] if unknown else []
    if parsed.kind == "tool_call":
        return ["a tool call must be a function_call turn, not an assistant answer"]
    return []
