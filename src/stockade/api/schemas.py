"""Request and response bodies: text-generation-inference's and OpenAI's chat completions, as published."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stockade.serving.params import MAX_TOP_LOGPROBS

#: TGI ``adapter_id``: a model version NAME@vN, never a path
ADAPTER_ID = r"^[A-Za-z0-9][\w.-]*@v\d+$"
#: A surrogate code point: JSON can spell one ("\udbff"), but it is no character, and tokenizers fail on it.
_SURROGATE = re.compile("[\ud800-\udfff]")


class Strict(BaseModel):
    """A body whose every accepted field has an effect: an unknown field is refused (422) by name, with
    the fields this server does accept. Fields a protocol defines but this server does not serve are
    declared and refused by the route with the reason (see docs/serving.md)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(str(k) for k in set(data) - set(cls.model_fields))
            if unknown:
                raise ValueError(
                    f"unsupported field(s) {', '.join(unknown)}: this server does not serve them; "
                    f"the fields accepted here are {', '.join(cls.model_fields)}"
                )
            for key, value in data.items():
                for item in value if isinstance(value, list) else (value,):
                    if isinstance(item, str) and _SURROGATE.search(item) is not None:
                        raise ValueError(
                            f"{key}: the text holds a lone UTF-16 surrogate (such as \\udbff), which is not "
                            "Unicode text; send the text as UTF-8"
                        )
        return data


class TgiParameters(Strict):
    """TGI ``parameters``. Unknown keys are refused (422); an ``adapter_id`` not served, ``watermark``,
    a malformed ``grammar`` and ``best_of`` > 1 by the route, each with the reason."""

    max_new_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0)
    top_p: float | None = Field(None, gt=0, le=1)
    top_k: int | None = Field(None, ge=1)
    do_sample: bool = False
    stop: list[str] = Field(default_factory=list)
    seed: int | None = Field(None, ge=0)
    repetition_penalty: float | None = Field(None, gt=0)
    details: bool = False
    return_full_text: bool | None = False
    decoder_input_details: bool = False
    truncate: int | None = Field(None, ge=1)
    typical_p: float | None = Field(None, gt=0, le=1)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    top_n_tokens: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)
    # refused by the route unless neutral (TGI's schema has them; this server does not serve them)
    watermark: bool = False
    best_of: int | None = Field(None, ge=1)
    grammar: Any = None  # served: json / json_schema / regex by constrained decoding (the route checks it)
    # a served adapter's NAME@vN (``serve --adapters``), checked by the route against what is served;
    # the pattern admits no path (no "/")
    adapter_id: str | None = Field(None, pattern=ADAPTER_ID, max_length=200)


class TgiRequest(Strict):
    inputs: str = Field(min_length=1)
    parameters: TgiParameters = Field(default_factory=TgiParameters)
    stream: bool = False


class TgiToken(BaseModel):
    id: int
    text: str
    logprob: float
    special: bool


class ContentPart(Strict):
    type: Literal["text"]
    text: str


class FunctionCallIn(Strict):
    name: str = Field(min_length=1)
    arguments: str


class ToolCallIn(Strict):
    """A call the model made earlier (an assistant message's ``tool_calls``, sent back by the client)."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionCallIn


class ChatMessage(Strict):
    """A message; ``content`` may be null only on an assistant message with ``tool_calls``. A tool
    result's ``tool_call_id`` must name a call of the assistant message before it: the results are
    rendered in the order of those calls (the template, as in training, has no slot for ids)."""

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ContentPart] | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None

    @model_validator(mode="after")
    def _content_or_calls(self) -> ChatMessage:
        if self.content is None and not (self.role == "assistant" and self.tool_calls):
            raise ValueError(f"a {self.role} message needs content")
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only assistant messages carry tool_calls")
        if (self.tool_call_id is None) == (self.role == "tool"):
            raise ValueError("a tool message, and only a tool message, needs tool_call_id")
        return self

    def text(self) -> str:
        if self.content is None:
            return ""
        return self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)


class StreamOptions(Strict):
    include_usage: bool = False


class ChatRequest(Strict):
    """OpenAI ``POST /v1/chat/completions``. Every field here is honoured, or refused by the route with
    the reason (``functions``/``function_call``, ``parallel_tool_calls: false`` under ``auto``, ...);
    any other field is refused by name."""

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    n: int = Field(1, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)
    user: str | None = None
    # tools and structured output: checked and served by the route (docs/serving.md)
    tools: list[Any] | None = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    # OpenAI's deprecated function calling: refused by the route with the replacement
    functions: list[Any] | None = None
    function_call: Any = None

    @field_validator("stop")
    @classmethod
    def _stop(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value
