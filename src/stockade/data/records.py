"""The normalized record every reader produces and every template renders.

A record is a conversation: an optional system prompt, then turns. Roles follow LLaMA-Factory:
``user``, ``assistant``, ``function_call`` (an assistant tool call, trained on like an answer) and
``observation`` (a tool result, context only). Stored versions hold one record per JSONL line,
``{"messages": [{"role": ..., "content": ...}, ...], "tools": ...}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Role = Literal["system", "user", "assistant", "function_call", "observation"]
TRAINED_ROLES: frozenset[str] = frozenset({"assistant", "function_call"})
PROMPT_ROLES: frozenset[str] = frozenset({"user", "observation"})


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    content: str


class Conversation(BaseModel):
    """A validated training record.

    Rules: at most one ``system`` turn, and only first; then prompt turns (user/observation) and
    answer turns (assistant/function_call) alternate, starting with a prompt and ending with an
    answer; no answer is empty (whitespace only counts as empty).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    messages: list[Turn] = Field(min_length=2)
    tools: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Conversation:
        turns = self.messages[1:] if self.messages[0].role == "system" else self.messages
        if any(turn.role == "system" for turn in turns):
            raise ValueError("a system turn may only come first")
        if not turns:
            raise ValueError("no user turn after the system prompt")
        for position, turn in enumerate(turns):
            expected = PROMPT_ROLES if position % 2 == 0 else TRAINED_ROLES
            if turn.role not in expected:
                wanted = " or ".join(sorted(expected))
                raise ValueError(
                    f"turn {position + 1} is {turn.role!r}, expected {wanted} (turns must alternate)"
                )
            if turn.role in TRAINED_ROLES and not turn.content.strip():
                raise ValueError(f"turn {position + 1} ({turn.role}) is empty: nothing to learn from")
        if len(turns) % 2:
            raise ValueError("the conversation ends with a prompt; it must end with an answer")
        return self

    @property
    def system(self) -> str | None:
        return self.messages[0].content if self.messages[0].role == "system" else None

    @property
    def turns(self) -> list[Turn]:
        """The turns after the system prompt."""
        return self.messages[1:] if self.messages[0].role == "system" else self.messages

    def to_json(self) -> dict:
        data: dict = {"messages": [turn.model_dump() for turn in self.messages]}
        if self.tools is not None:
            data["tools"] = self.tools
        return data


@dataclass(frozen=True)
class RecordProblem:
    """One problem with one input record: where it is and why it was refused."""

    file: str
    index: int  # 0-based record index in the file
    reason: str
    field: str | None = None
    line: int | None = None  # 1-based line, where the format has lines (JSONL, CSV)

    def render(self) -> str:
        where = f"{self.file}: record {self.index}"
        if self.line is not None:
            where += f" (line {self.line})"
        if self.field:
            where += f", field {self.field!r}"
        return f"{where}: {self.reason}"
