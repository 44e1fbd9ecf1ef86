"""Request and response bodies: text-generation-inference's and OpenAI's chat completions, as published."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class TgiParameters(BaseModel):
    """TGI ``parameters``. Unknown keys are refused (422); unsupported ones must stay at their defaults."""

    model_config = ConfigDict(extra="forbid")

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
    # accepted for client compatibility; only their neutral values are served
    truncate: int | None = None
    typical_p: float | None = None
    watermark: bool = False
    best_of: int | None = Field(None, ge=1, le=1)
    frequency_penalty: float | None = None
    top_n_tokens: int | None = Field(None, ge=0, le=0)
    grammar: None = None
    adapter_id: None = None


class TgiRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: str = Field(min_length=1)
    parameters: TgiParameters = Field(default_factory=TgiParameters)
    stream: bool = False


class TgiToken(BaseModel):
    id: int
    text: str
    logprob: float
    special: bool


class ContentPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ContentPart]

    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    """OpenAI ``POST /v1/chat/completions`` (the subset a text model serves; ``n`` must be 1)."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    n: int = Field(1, ge=1, le=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    user: str | None = None

    @field_validator("stop")
    @classmethod
    def _stop(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value
