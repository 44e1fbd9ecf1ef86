"""The normalized record every reader produces and every template renders.

A record is a conversation: an optional system prompt, then turns. Roles follow LLaMA-Factory:
``user``, ``assistant``, ``function_call`` (an assistant tool call, trained on like an answer) and
``observation`` (a tool result, context only). Stored versions hold one record per JSONL line,
``{"messages": [{"role": ..., "content": ...}, ...], "tools": ...}``.

Three more kinds, each marked by ``kind``, keep every text in ``messages`` so that the privacy gate
scans (and desensitizes) all of it, consistently across the record:

* ``text`` (:class:`TextDocument`, stage pt): one ``text`` turn, a document of plain text;
* ``preference`` (:class:`PreferencePair`, stage dpo): the prompt turns, then a ``chosen`` and a
  ``rejected`` answer;
* ``kto`` (:class:`KtoExample`, stage kto): a conversation whose last answer is tagged desirable or
  not (``kto_tag``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Role = Literal["system", "user", "assistant", "function_call", "observation", "text", "chosen", "rejected"]
TRAINED_ROLES: frozenset[str] = frozenset({"assistant", "function_call"})
PROMPT_ROLES: frozenset[str] = frozenset({"user", "observation"})
# the roles whose text a model learns from, in every kind of record (statistics, token counts)
LEARNED_ROLES: frozenset[str] = TRAINED_ROLES | {"text", "chosen", "rejected"}
RecordKind = Literal["conversation", "text", "preference", "kto"]
STAGE_OF_KIND: dict[str, str] = {"conversation": "sft", "text": "pt", "preference": "dpo", "kto": "kto"}


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

    @property
    def turn_pairs(self) -> int:
        return len(self.turns) // 2

    def to_json(self) -> dict:
        data: dict = {"messages": [turn.model_dump() for turn in self.messages]}
        if self.tools is not None:
            data["tools"] = self.tools
        return data


class TextDocument(BaseModel):
    """A plain-text document (stage pt): ``{"kind": "text", "messages": [{"role": "text", ...}]}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["text"] = "text"
    messages: list[Turn] = Field(min_length=1, max_length=1)

    @model_validator(mode="after")
    def _shape(self) -> TextDocument:
        if self.messages[0].role != "text":
            raise ValueError(f"a text document holds one 'text' turn, not {self.messages[0].role!r}")
        if not self.messages[0].content.strip():
            raise ValueError("the text is empty: nothing to learn from")
        return self

    @classmethod
    def of(cls, text: str) -> TextDocument:
        return cls(messages=[Turn(role="text", content=text)])

    @property
    def text(self) -> str:
        return self.messages[0].content

    @property
    def turn_pairs(self) -> int:
        return 0

    def to_json(self) -> dict:
        return {"kind": "text", "messages": [turn.model_dump() for turn in self.messages]}


class PreferencePair(BaseModel):
    """A prompt with a preferred and a dispreferred answer (stage dpo). ``messages`` are the prompt's
    turns (a conversation ending with a prompt), then one ``chosen`` and one ``rejected`` turn."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["preference"] = "preference"
    messages: list[Turn] = Field(min_length=3)
    tools: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> PreferencePair:
        *prompt, chosen, rejected = self.messages
        if (chosen.role, rejected.role) != ("chosen", "rejected"):
            raise ValueError("a preference record ends with a 'chosen' then a 'rejected' turn")
        for turn in (chosen, rejected):
            if not turn.content.strip():
                raise ValueError(f"the {turn.role} answer is empty: nothing to compare")
        if any(turn.role in ("chosen", "rejected", "text") for turn in prompt):
            raise ValueError("only the last two turns may be 'chosen' and 'rejected'")
        self.conversation("chosen")  # the prompt must make a valid conversation with either answer
        return self

    def conversation(self, which: Literal["chosen", "rejected"]) -> Conversation:
        """The prompt followed by one answer, as an ordinary conversation."""
        answer = self.messages[-2] if which == "chosen" else self.messages[-1]
        return Conversation(
            messages=[*self.messages[:-2], Turn(role="assistant", content=answer.content)], tools=self.tools
        )

    @property
    def turn_pairs(self) -> int:
        return len(self.conversation("chosen").turns) // 2

    def to_json(self) -> dict:
        data: dict = {"kind": "preference", "messages": [turn.model_dump() for turn in self.messages]}
        if self.tools is not None:
            data["tools"] = self.tools
        return data


class KtoExample(BaseModel):
    """A conversation whose last answer is desirable (``kto_tag: true``) or not (stage kto)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["kto"] = "kto"
    messages: list[Turn] = Field(min_length=2)
    tools: str | None = None
    kto_tag: bool

    @model_validator(mode="after")
    def _shape(self) -> KtoExample:
        self.conversation()
        return self

    def conversation(self) -> Conversation:
        return Conversation(messages=self.messages, tools=self.tools)

    @property
    def turn_pairs(self) -> int:
        return self.conversation().turn_pairs

    def to_json(self) -> dict:
        data: dict = {
            "kind": "kto",
            "kto_tag": self.kto_tag,
            "messages": [turn.model_dump() for turn in self.messages],
        }
        if self.tools is not None:
            data["tools"] = self.tools
        return data


Record = Conversation | TextDocument | PreferencePair | KtoExample
RECORD_TYPES: tuple[type, ...] = (Conversation, TextDocument, PreferencePair, KtoExample)
_BY_KIND: dict[str, type] = {"text": TextDocument, "preference": PreferencePair, "kto": KtoExample}


def record_kind(data: dict) -> str:
    """The kind of a stored record (``conversation`` when it has no ``kind``)."""
    return str(data.get("kind") or "conversation")


def parse_record(data: dict) -> Record:
    """A stored record (one JSONL line, decoded) as its model, by ``kind``."""
    model = _BY_KIND.get(record_kind(data), Conversation)
    return model.model_validate(data)  # type: ignore[no-any-return]


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
