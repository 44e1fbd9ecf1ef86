"""Tools and tool calls as text, in LLaMA-Factory's formats: what a template writes for ``tools`` (in the
system prompt) and for a ``function_call`` turn, and the parser that reads a model's answer back.

The Qwen format (LLaMA-Factory's ``QwenToolUtils``, the Qwen2.5 chat template's own): the tools, one
JSON object per line, inside ``<tools></tools>`` after an instruction; each call a JSON object
``{"name": ..., "arguments": ...}`` inside ``<tool_call>\\n...\\n</tool_call>``, calls one per line.
JSON is written as Python's ``json.dumps(..., ensure_ascii=False)`` does (", " and ": " separators),
so training text and LLaMA-Factory's agree character for character.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from stockade.core.errors import StockadeError
from stockade.core.registry import Registry

QWEN_TOOL_PROMPT = (
    "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>{tool_text}"
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, '
    '"arguments": <args-json-object>}\n</tool_call>'
)
CALL_OPEN, CALL_CLOSE = "<tool_call>", "</tool_call>"
QWEN_THOUGHT = ("<think>\n", "\n</think>\n\n")  # LLaMA-Factory's default thought words


@dataclass(frozen=True)
class ToolCall:
    """One parsed call: the function's name and its arguments as a JSON text."""

    name: str
    arguments: str


@dataclass(frozen=True)
class QwenToolFormat:
    """Qwen's tool text, call text and call parser (see the module docstring)."""

    name: str = "qwen"
    open: str = CALL_OPEN
    close: str = CALL_CLOSE

    def tools_text(self, tools: str) -> str:
        """The text appended to the system prompt for ``tools`` (a JSON list; ``[]`` gives "")."""
        parsed = _load(tools, "the conversation's tools")
        items = parsed if isinstance(parsed, list) else [parsed]
        if not items:
            return ""
        lines = ""
        for tool in items:
            wrapped = tool if isinstance(tool, dict) and tool.get("type") == "function" else None
            wrapped = wrapped or {"type": "function", "function": tool}
            lines += "\n" + json.dumps(wrapped, ensure_ascii=False)
        return QWEN_TOOL_PROMPT.replace("{tool_text}", lines)

    def calls_text(self, calls: list[ToolCall]) -> str:
        """``<tool_call>`` blocks for these calls, one per line (the arguments re-serialised)."""
        blocks = []
        for call in calls:
            body = {"name": call.name, "arguments": json.loads(call.arguments)}
            blocks.append(f"{self.open}\n{json.dumps(body, ensure_ascii=False)}\n{self.close}")
        return "\n".join(blocks)

    def function_turn(self, content: str) -> str:
        """A ``function_call`` turn's content (a call or a list of calls as JSON, optionally already in
        ``<tool_call>`` tags or after a thought) as the text the model must learn to write."""
        tagged = re.search(rf"{re.escape(self.open)}(.*?){re.escape(self.close)}", content, re.DOTALL)
        if tagged is not None:
            before = content.replace(tagged.group(0), "")
            return before + self.calls_text(_calls(tagged.group(1), content))
        thought = re.search(
            rf"{re.escape(QWEN_THOUGHT[0])}(.*?){re.escape(QWEN_THOUGHT[1])}", content, re.DOTALL
        )
        if thought is not None:
            return thought.group(0) + self.calls_text(_calls(content.replace(thought.group(0), ""), content))
        return self.calls_text(_calls(content, content))

    def parse(self, text: str) -> list[ToolCall] | None:
        """The calls in a model's answer, or None when it holds none or a malformed one (then the answer
        is prose). Text before the first call is allowed (a thought); nothing but calls may follow it."""
        pattern = re.compile(
            rf"{re.escape(self.open)}(.+?){re.escape(self.close)}(?=\s*{re.escape(self.open)}|\s*$)",
            re.DOTALL,
        )
        found = pattern.findall(text)
        if not found:
            return None
        calls = []
        for body in found:
            try:
                call = json.loads(body.strip())
            except json.JSONDecodeError:
                return None
            if not isinstance(call, dict) or not isinstance(call.get("name"), str) or "arguments" not in call:
                return None
            calls.append(ToolCall(call["name"], json.dumps(call["arguments"], ensure_ascii=False)))
        return calls

    def content_before_calls(self, text: str) -> str:
        """The text before the first call (a thought, or nothing)."""
        return text.split(self.open, 1)[0]


def _load(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise StockadeError(
            f"{what} are not valid JSON ({exc.msg} at character {exc.pos})",
            fix="give tools as a JSON list of function schemas and each call as "
            '{"name": ..., "arguments": {...}}',
        ) from exc


def _calls(text: str, content: str) -> list[ToolCall]:
    parsed = _load(text, f"the function_call turn {content[:80]!r}")
    items = parsed if isinstance(parsed, list) else [parsed]
    calls = []
    for item in items:
        if not isinstance(item, dict) or "name" not in item or "arguments" not in item:
            raise StockadeError(
                f"the function_call turn {content[:80]!r} is not a call: it needs name and arguments",
                fix='write each call as {"name": ..., "arguments": {...}}',
            )
        calls.append(ToolCall(str(item["name"]), json.dumps(item["arguments"], ensure_ascii=False)))
    return calls


TOOL_FORMATS: Registry[QwenToolFormat] = Registry("tool-call format")
TOOL_FORMATS.add("qwen", QwenToolFormat())
