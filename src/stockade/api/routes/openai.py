"""OpenAI routes: ``POST /v1/chat/completions`` (blocking and SSE streaming) and ``GET /v1/models``.

The chat template is applied here, server-side. As with OpenAI, an omitted temperature samples at 1.0;
``temperature: 0`` is greedy. Every field of the request is honoured or refused by name (422 with
``error.param``); docs/serving.md lists which.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from stockade.api.deps import Caller, Served
from stockade.api.disconnect import ClientGone, until_disconnect
from stockade.api.errors import ApiError, error_body, from_exception, refuse
from stockade.api.prompt_limits import check_prompt_bytes
from stockade.api.routes.generation import Generation
from stockade.api.routes.tgi import SSE_HEADERS
from stockade.api.schemas import ChatRequest
from stockade.api.state import ServerState
from stockade.core.ids import new_id
from stockade.security.principal import Principal
from stockade.serving.errors import PersonalDataBlocked
from stockade.serving.params import GenerationParams
from stockade.serving.pii_guard import WITHHELD_TOKEN_ID
from stockade.serving.prompts import chat_prompt_ids
from stockade.serving.stream import Chunk

router = APIRouter(prefix="/v1", tags=["openai"])
FINISH = {"eos_token": "stop", "stop_sequence": "stop", "length": "length"}
NO_TOOLS = "tool calling is not supported by this server yet (the reply would be prose, not a tool call)"


def _refuse_unserved(body: ChatRequest) -> None:
    """The fields of OpenAI's schema this server does not serve (with the value sent): 422 by name."""
    if body.n > 1:
        raise refuse("n", "only one choice per request is served (n=1); send n requests with different seeds")
    if body.tools:
        raise refuse("tools", f"{NO_TOOLS}; leave tools out")
    if body.tool_choice not in (None, "none"):
        raise refuse("tool_choice", f'{NO_TOOLS}; only "none" is accepted')
    if body.parallel_tool_calls is not None:
        raise refuse("parallel_tool_calls", f"{NO_TOOLS}; leave it out")
    if body.functions or body.function_call is not None:
        raise refuse("functions" if body.functions else "function_call", f"{NO_TOOLS}; leave it out")
    if body.response_format is not None and body.response_format.get("type") != "text":
        kind = body.response_format.get("type")
        raise refuse(
            "response_format",
            f"{kind!r} needs constrained decoding, which this server does not support yet; "
            'only {"type": "text"} is served',
        )
    if body.top_logprobs is not None and not body.logprobs:
        raise refuse("top_logprobs", "needs logprobs: true (as in OpenAI's API)")


async def _start(body: ChatRequest, request: Request, state: ServerState, caller: Principal) -> Generation:
    _refuse_unserved(body)
    if body.model and body.model != state.model_id:
        raise ApiError(
            404,
            f"the model {body.model!r} is not served here (serving {state.model_id})",
            "validation",
            code="model_not_found",
        )
    texts = [m.text() for m in body.messages]
    check_prompt_bytes(texts, state.engine.info.context, "messages")  # before any tokenising
    found = state.personal_data(request)["prompt"]

    def prepare() -> list[int]:  # in a worker thread: never on the event loop
        messages = [
            {
                "role": "system" if m.role == "developer" else m.role,
                "content": state.pii_guard.filter_prompt(text, found),
            }
            for m, text in zip(body.messages, texts, strict=True)
        ]
        return chat_prompt_ids(state.tokenizer, state.template, messages)

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
    )
    return Generation(state, request, prompt_ids, params, include_stop=False, end_user=body.user)


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
        events = _events(generation, ident, created, state.model_id, include_usage, _logprobs_of(body))
        return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
    try:
        chunks = await until_disconnect(request, generation.collect())
    except ClientGone:
        generation.account(499)
        return Response(status_code=499)
    generation.account(200)
    top = _logprobs_of(body)
    logprobs = None
    if top is not None:
        logprobs = {"content": _logprobs(chunks, state.tokenizer, top), "refusal": None}
    return {
        "id": ident,
        "object": "chat.completion",
        "created": created,
        "model": state.model_id,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": generation.text},
                "finish_reason": FINISH.get(generation.outcome.finish or "length", "stop"),
                "logprobs": logprobs,
            }
        ],
        "usage": _usage(generation),
    }


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

        async for batch in generation.batches():
            lines = []
            for chunk in batch:
                if top is not None:
                    pending.append(chunk)
                if chunk.text:
                    lines.append(
                        event(
                            [
                                {
                                    "index": 0,
                                    "delta": {"content": chunk.text},
                                    "finish_reason": None,
                                    "logprobs": logprobs(),
                                }
                            ]
                        )
                    )
                if chunk.finish:
                    lines.append(
                        event(
                            [
                                {
                                    "index": 0,
                                    "delta": {},
                                    "finish_reason": FINISH[chunk.finish],
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
async def models(state: Served, _: Caller) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": state.model_id, "object": "model", "created": int(state.started), "owned_by": "stockade"}
        ],
    }
