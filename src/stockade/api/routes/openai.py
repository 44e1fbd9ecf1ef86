"""OpenAI routes: ``POST /v1/chat/completions`` (blocking and SSE streaming) and ``GET /v1/models``.

The chat template is applied here, server-side. As with OpenAI, an omitted temperature samples at 1.0;
``temperature: 0`` is greedy. Every field of the request is honoured or refused by name (422 with
``error.param``); docs/serving.md lists which.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from stockade.api.deps import Caller, Served, choose_model
from stockade.api.disconnect import ClientGone, until_disconnect
from stockade.api.errors import error_body, from_exception, refuse
from stockade.api.prompt_limits import check_prompt_bytes
from stockade.api.routes.generation import Generation
from stockade.api.routes.tgi import SSE_HEADERS
from stockade.api.schemas import ChatRequest
from stockade.api.state import ServerState
from stockade.core.ids import new_id
from stockade.data.templates.tool_calls import QwenToolFormat, ToolCall
from stockade.security.principal import Principal
from stockade.serving import constrained
from stockade.serving.constrained import Constraint
from stockade.serving.errors import InvalidRequest, PersonalDataBlocked
from stockade.serving.params import GenerationParams
from stockade.serving.pii_guard import WITHHELD_TOKEN_ID
from stockade.serving.prompts import chat_prompt_ids
from stockade.serving.stream import Chunk
from stockade.serving.tools import (
    call_grammar,
    forced_tool,
    read_tools,
    split_reply,
    tool_format,
    tool_prompt_ids,
    tools_json,
)

router = APIRouter(prefix="/v1", tags=["openai"])
FINISH = {"eos_token": "stop", "stop_sequence": "stop", "length": "length"}
FUNCTIONS_GONE = "OpenAI's deprecated function calling is not served; send tools and tool_choice instead"


def _refuse_unserved(body: ChatRequest) -> None:
    """The fields of OpenAI's schema this server does not serve (with the value sent): 422 by name."""
    if body.n > 1:
        raise refuse("n", "only one choice per request is served (n=1); send n requests with different seeds")
    if body.functions or body.function_call is not None:
        raise refuse("functions" if body.functions else "function_call", FUNCTIONS_GONE)
    if body.top_logprobs is not None and not body.logprobs:
        raise refuse("top_logprobs", "needs logprobs: true (as in OpenAI's API)")
    if body.stream_options is not None and not body.stream:
        raise refuse("stream_options", "only allowed when stream is true (as in OpenAI's API)")


async def _start(body: ChatRequest, request: Request, state: ServerState, caller: Principal) -> Generation:
    _refuse_unserved(body)
    adapter = choose_model(request, state, caller, body.model, "model")
    tooling = _tooling(body, state.template)
    constraint = tooling.constraint or _response_format(body, tooling)
    texts = [m.text() for m in body.messages]
    calls_sent = [c.function.arguments for m in body.messages for c in m.tool_calls or ()]
    # before any tokenising: the messages with the calls they hold, and the tools' text
    check_prompt_bytes([*texts, *calls_sent, tooling.tools or ""], state.engine.info.context, "messages")
    found = state.personal_data(request)["prompt"]

    def prepare() -> list[int]:  # in a worker thread: never on the event loop
        messages: list[dict[str, Any]] = [
            {
                "role": "system" if m.role == "developer" else m.role,
                "content": state.pii_guard.filter_prompt(text, found),
            }
            for m, text in zip(body.messages, texts, strict=True)
        ]
        history = any(m.role == "tool" or m.tool_calls for m in body.messages)
        if tooling.tools is None and not history:
            return chat_prompt_ids(state.tokenizer, state.template, messages)
        for message, m in zip(messages, body.messages, strict=True):
            message["tool_call_id"] = m.tool_call_id
            if m.tool_calls:
                message["tool_calls"] = [
                    {
                        "id": c.id,
                        "function": {
                            "name": c.function.name,
                            "arguments": state.pii_guard.filter_prompt(c.function.arguments, found),
                        },
                    }
                    for c in m.tool_calls
                ]
        tool_format(state.template)  # a history of calls needs the template's call format too
        return tool_prompt_ids(state.tokenizer, state.template, messages, tooling.tools)

    prompt_ids = await state.prompt_workers.run(caller.credential_id, prepare)
    room = state.engine.info.context - len(prompt_ids)
    params = GenerationParams(
        max_new_tokens=body.max_completion_tokens or body.max_tokens or max(1, room),
        temperature=1.0 if body.temperature is None else body.temperature,
        top_p=body.top_p,
        do_sample=body.temperature != 0,
        stop=tuple(body.stop or ()),
        seed=body.seed,
        frequency_penalty=body.frequency_penalty,
        presence_penalty=body.presence_penalty,
        top_logprobs=(body.top_logprobs or 0) if body.logprobs else 0,
        adapter=adapter,
        constraint=constraint,
    )
    generation = Generation(state, request, prompt_ids, params, include_stop=False, end_user=body.user)
    generation.tool_calls = tooling.calls  # type: ignore[attr-defined]
    return generation


@dataclass(frozen=True)
class _Tooling:
    """What a request's tools mean here: the tools text for the template (None: not rendered), the call
    format to parse the answer with (None: not parsed), the grammar forcing a call (None: free)."""

    tools: str | None = None
    calls: QwenToolFormat | None = None
    constraint: Constraint | None = None


def _tooling(body: ChatRequest, template: Any) -> _Tooling:
    if not body.tools:
        if body.tool_choice not in (None, "none", "auto"):
            raise refuse("tool_choice", "no tools were sent; send tools, or leave tool_choice out")
        if body.parallel_tool_calls is not None:
            raise refuse("parallel_tool_calls", "no tools were sent; leave it out")
        return _Tooling()
    try:
        specs = read_tools(body.tools)
    except InvalidRequest as exc:
        raise refuse("tools", str(exc)) from exc
    try:
        mode = forced_tool(body.tool_choice, specs)
    except InvalidRequest as exc:
        raise refuse("tool_choice", str(exc)) from exc
    if mode == "none":  # as OpenAI: the model does not call; the tools are not offered at all
        if body.parallel_tool_calls is not None:
            raise refuse("parallel_tool_calls", 'has no effect with tool_choice "none"; leave it out')
        return _Tooling()
    try:
        calls = tool_format(template)
    except InvalidRequest as exc:
        raise refuse("tools", str(exc).removeprefix("tools: ")) from exc
    parallel = body.parallel_tool_calls is not False
    if mode == "auto":
        if not parallel:
            raise refuse(
                "parallel_tool_calls",
                'false is enforced only with tool_choice "required" or a named function (constrained to one '
                'call); under "auto" the answer is free, so leave it out',
            )
        return _Tooling(tools_json(specs), calls)
    chosen = specs if mode == "required" else [s for s in specs if s.name == mode]
    return _Tooling(tools_json(specs), calls, call_grammar(chosen, calls, parallel=parallel))


def _response_format(body: ChatRequest, tooling: _Tooling) -> Constraint | None:
    """OpenAI ``response_format``: text (free), ``json_object`` or ``json_schema`` (constrained)."""
    form = body.response_format
    if form is None or form.get("type") == "text":
        return None
    if tooling.calls is not None:
        raise refuse(
            "response_format",
            "cannot be combined with tools here (one grammar per answer): send tools or a response_format",
        )
    if form.get("type") == "json_object":
        return constrained.json_object("response_format")
    spec = form.get("json_schema")
    if form.get("type") == "json_schema" and isinstance(spec, dict) and isinstance(spec.get("schema"), dict):
        return constrained.json_schema(spec["schema"], "response_format.json_schema.schema")
    raise refuse(
        "response_format",
        'send {"type": "text"}, {"type": "json_object"} or '
        '{"type": "json_schema", "json_schema": {"name": ..., "schema": {...}}}',
    )


def _entry(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}


def _logprobs(chunks: list[Chunk], tokenizer: Any, top: int) -> list[dict[str, Any]]:
    """OpenAI's ``logprobs.content`` for these chunks: one entry per generated token (not the end-of-text
    token). A token withheld by the output guard is given as the text released with it, without
    alternatives (they would show it)."""
    entries = []
    for chunk in chunks:
        if chunk.finish == "eos_token" and chunk.special:
            continue
        withheld = chunk.token_id == WITHHELD_TOKEN_ID
        entry = _entry(chunk.text if withheld else tokenizer.decode([chunk.token_id]), chunk.logprob)
        alternatives = () if withheld else chunk.top[:top]
        entry["top_logprobs"] = [_entry(tokenizer.decode([i]), lp) for i, lp in alternatives]
        entries.append(entry)
    return entries


def _usage(generation: Generation) -> dict[str, int]:
    prompt, completion = len(generation.prompt_ids), generation.outcome.generated
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


@router.post("/chat/completions", response_model=None)
async def chat_completions(body: ChatRequest, request: Request, state: Served, caller: Caller) -> Any:
    generation = await _start(body, request, state, caller)
    ident, created = new_id("chatcmpl-"), int(time.time())
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        model = generation.params.adapter or state.model_id
        events = _events(generation, ident, created, model, include_usage, _logprobs_of(body))
        return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
    try:
        chunks = await until_disconnect(request, generation.collect())
    except ClientGone:
        generation.account(499)
        return Response(status_code=499)
    generation.account(200)
    message, finish = _reply(
        generation.text,
        FINISH.get(generation.outcome.finish or "length", "stop"),
        generation.tool_calls,  # type: ignore[attr-defined]
    )
    top = _logprobs_of(body)
    logprobs = None
    if top is not None:
        logprobs = {"content": _logprobs(chunks, state.tokenizer, top), "refusal": None}
    return {
        "id": ident,
        "object": "chat.completion",
        "created": created,
        "model": generation.params.adapter or state.model_id,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish,
                "logprobs": logprobs,
            }
        ],
        "usage": _usage(generation),
    }


def _reply(text: str, finish: str, calls: QwenToolFormat | None) -> tuple[dict[str, Any], str]:
    """The message and finish reason: well-formed calls (when tools are on) become ``tool_calls`` with
    ``finish_reason: "tool_calls"``; anything else, a malformed call included, is the text as it is."""
    split = split_reply(text, calls) if calls is not None else None
    if split is None:
        return {"role": "assistant", "content": text}, finish
    before, parsed = split
    return {"role": "assistant", "content": before or None, "tool_calls": _calls_out(parsed)}, "tool_calls"


def _calls_out(calls: list[ToolCall], *, indexed: bool = False) -> list[dict[str, Any]]:
    """OpenAI's ``tool_calls`` (with ``index`` in a stream's delta)."""
    out = []
    for index, call in enumerate(calls):
        entry = {
            "id": new_id("call_"),
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }
        out.append({"index": index, **entry} if indexed else entry)
    return out


def _held_back(text: str, opener: str) -> int:
    """Where to cut ``text`` so the part after it may still become ``opener`` (the start of a call)."""
    if opener in text:
        return text.index(opener)
    for size in range(min(len(opener) - 1, len(text)), 0, -1):
        if text.endswith(opener[:size]):
            return len(text) - size
    return len(text)


def _logprobs_of(body: ChatRequest) -> int | None:
    """None without ``logprobs``; else how many alternatives per token."""
    return (body.top_logprobs or 0) if body.logprobs else None


async def _events(
    generation: Generation, ident: str, created: int, model: str, include_usage: bool, top: int | None
) -> AsyncIterator[str]:
    def event(choices: list[dict[str, Any]], **extra: Any) -> str:
        body = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": None,
            "choices": choices,
            **extra,
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    status = 499
    try:
        yield event(
            [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": ""},
                    "finish_reason": None,
                    "logprobs": None,
                }
            ]
        )
        tokenizer = generation.state.tokenizer
        pending: list[Chunk] = []  # tokens whose text is still held back: their logprobs go with it

        def logprobs() -> dict[str, Any] | None:
            if top is None:
                return None
            content = _logprobs(pending, tokenizer, top)
            pending.clear()
            return {"content": content, "refusal": None}

        calls: QwenToolFormat | None = generation.tool_calls  # type: ignore[attr-defined]
        held = ""  # with tools: text from where a call may start, sent as tool_calls once it parses
        async for batch in generation.batches():
            lines = []
            for chunk in batch:
                if top is not None:
                    pending.append(chunk)
                text, finish = chunk.text, FINISH[chunk.finish] if chunk.finish else None
                if calls is not None:
                    held += text
                    cut = _held_back(held, calls.open)
                    text, held = held[:cut], held[cut:]
                    parsed = calls.parse(held) if chunk.finish and held else None
                    if parsed:
                        finish, held = "tool_calls", ""
                        delta = {"tool_calls": _calls_out(parsed, indexed=True)}
                        choice = {"index": 0, "delta": delta, "finish_reason": None, "logprobs": None}
                        lines.append(event([choice]))
                    elif chunk.finish:  # no call after all (auto): the held text is the answer's end
                        text, held = text + held, ""
                if text:
                    lines.append(
                        event(
                            [
                                {
                                    "index": 0,
                                    "delta": {"content": text},
                                    "finish_reason": None,
                                    "logprobs": logprobs(),
                                }
                            ]
                        )
                    )
                if finish:
                    lines.append(
                        event(
                            [
                                {
                                    "index": 0,
                                    "delta": {},
                                    "finish_reason": finish,
                                    "logprobs": logprobs() if pending else None,
                                }
                            ]
                        )
                    )
            if lines:
                yield "".join(lines)
        if include_usage:
            yield event([], usage=_usage(generation))
        yield "data: [DONE]\n\n"
        status = 200
    except Exception as exc:
        error = from_exception(exc)
        status = error.status
        if isinstance(exc, PersonalDataBlocked):  # OpenAI's finish reason for withheld content, then why
            yield event([{"index": 0, "delta": {}, "finish_reason": "content_filter", "logprobs": None}])
        yield f"data: {json.dumps(error_body(error, '/v1/chat/completions'), ensure_ascii=False)}\n\n"
    finally:
        generation.account(status)


@router.get("/models")
async def models(state: Served, caller: Caller) -> dict[str, Any]:
    """The base and the adapters served on it (``parent``: the base), those this credential may call."""
    created = int(state.started)
    data = [{"id": state.model_id, "object": "model", "created": created, "owned_by": "stockade"}]
    data += [
        {"id": a, "object": "model", "created": created, "owned_by": "stockade", "parent": state.model_id}
        for a in state.adapters
    ]
    return {"object": "list", "data": [m for m in data if caller.may_use(m["id"])]}
