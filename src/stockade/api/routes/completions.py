"""OpenAI ``POST /v1/completions`` (text completion of raw prompts), TGI ``POST /tokenize`` and the token
count route ``POST /v1/tokenize``.

Completions take the prompt as given (no chat template: the client writes the whole prompt), one choice
per prompt of a list; the sampling fields mean what they mean in chat completions. Every field is
honoured or refused by name (422 with ``error.param``); docs/serving.md lists which.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import Field, field_validator

from stockade.api.deps import Caller, Served, choose_model
from stockade.api.disconnect import ClientGone, until_disconnect
from stockade.api.errors import error_body, from_exception, refuse
from stockade.api.prompt_limits import check_prompt_bytes
from stockade.api.routes.generation import Generation
from stockade.api.routes.tgi import SSE_HEADERS
from stockade.api.schemas import ChatMessage, StreamOptions, Strict
from stockade.api.state import ServerState
from stockade.core.ids import new_id
from stockade.security.principal import Principal
from stockade.serving.params import GenerationParams
from stockade.serving.pii_guard import WITHHELD_TOKEN_ID
from stockade.serving.prompts import chat_prompt_ids, raw_prompt_ids
from stockade.serving.stream import Chunk

router = APIRouter(tags=["openai"])
FINISH = {"eos_token": "stop", "stop_sequence": "stop", "length": "length"}
MAX_PROMPTS = 16  # prompts in one /v1/completions request (each one a choice, generated together)
MAX_LOGPROBS = 5  # OpenAI's limit for the completions API's ``logprobs``
DEFAULT_MAX_TOKENS = 16  # OpenAI's default for completions


class CompletionRequest(Strict):
    """OpenAI ``POST /v1/completions``: honoured, or refused by the route with the reason (``suffix``,
    ``best_of`` > 1, ``n`` > 1, token-id prompts); any other field is refused by name."""

    model: str | None = None
    prompt: str | list[str] | list[int] | list[list[int]]
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    n: int = Field(1, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    logprobs: int | None = Field(None, ge=0, le=MAX_LOGPROBS)
    echo: bool = False
    user: str | None = None
    # refused by the route unless absent or neutral
    best_of: int | None = Field(None, ge=1)
    suffix: str | None = None

    @field_validator("stop")
    @classmethod
    def _stop(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def _prompts(body: CompletionRequest) -> list[str]:
    prompt = body.prompt
    if isinstance(prompt, str):
        return [prompt]
    if not prompt or not all(isinstance(p, str) for p in prompt):
        raise refuse(
            "prompt", "send a string or a non-empty list of strings (token-id prompts are not served)"
        )
    if len(prompt) > MAX_PROMPTS:
        raise refuse("prompt", f"at most {MAX_PROMPTS} prompts per request (got {len(prompt)})")
    return [str(p) for p in prompt]


def _refuse_unserved(body: CompletionRequest) -> None:
    if body.n > 1:
        raise refuse("n", "only one choice per prompt is served (n=1); send a list of prompts instead")
    if body.best_of not in (None, 1):
        raise refuse("best_of", "only best_of=1 is served (one sequence per prompt)")
    if body.stream_options is not None and not body.stream:
        raise refuse("stream_options", "only allowed when stream is true (as in OpenAI's API)")
    if body.suffix:
        raise refuse("suffix", "insertion (text after the completion) is not served; leave suffix out")


async def _start(
    body: CompletionRequest, request: Request, state: ServerState, caller: Principal
) -> list[Generation]:
    _refuse_unserved(body)
    prompts = _prompts(body)
    adapter = choose_model(request, state, caller, body.model, "model")
    for prompt in prompts:  # each prompt has the whole context to itself
        check_prompt_bytes([prompt], state.engine.info.context, "prompt")
    found = state.personal_data(request)

    def prepare() -> list[tuple[list[int], str]]:  # in a worker thread: never on the event loop
        prepared = []
        for prompt in prompts:
            text = state.pii_guard.filter_prompt(prompt, found["prompt"])
            echo = state.pii_guard.filter_echo(prompt, found["output"]) if body.echo else ""
            prepared.append((raw_prompt_ids(state.tokenizer, text), echo))
        return prepared

    prepared = await state.prompt_workers.run(caller.credential_id, prepare)
    params = GenerationParams(
        max_new_tokens=body.max_tokens or DEFAULT_MAX_TOKENS,
        temperature=1.0 if body.temperature is None else body.temperature,
        top_p=body.top_p,
        do_sample=body.temperature != 0,
        stop=tuple(body.stop or ()),
        seed=body.seed,
        frequency_penalty=body.frequency_penalty,
        presence_penalty=body.presence_penalty,
        top_logprobs=body.logprobs or 0,
        adapter=adapter,
    )
    generations = []
    try:
        for ids, echo in prepared:  # all submitted now: the engine batches them together
            generations.append(
                Generation(state, request, ids, params, include_stop=False, echo=echo, end_user=body.user)
            )
    except BaseException:
        for generation in generations:
            generation.handle.cancel()
        raise
    return generations


def _logprobs(chunks: list[Chunk], tokenizer: Any, offset: int) -> dict[str, Any]:
    """The completions API's logprobs: tokens, their logprobs, the best alternatives, text offsets."""
    tokens, values, tops, offsets = [], [], [], []
    for chunk in chunks:
        if chunk.finish == "eos_token" and chunk.special:
            continue
        withheld = chunk.token_id == WITHHELD_TOKEN_ID
        token = chunk.text if withheld else tokenizer.decode([chunk.token_id])
        tokens.append(token)
        values.append(chunk.logprob)
        tops.append({} if withheld else {tokenizer.decode([i]): lp for i, lp in chunk.top})
        offsets.append(offset)
        offset += len(token)
    return {"tokens": tokens, "token_logprobs": values, "top_logprobs": tops, "text_offset": offsets}


def _usage(generations: list[Generation]) -> dict[str, int]:
    prompt = sum(len(g.prompt_ids) for g in generations)
    completion = sum(g.outcome.generated for g in generations)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _account(
    state: ServerState, request: Request, generations: list[Generation], status: int, user: Any
) -> None:
    usage = _usage(generations)
    state.account(
        request,
        status=status,
        prompt_tokens=usage["prompt_tokens"],
        generated_tokens=usage["completion_tokens"],
        end_user=user,
    )


@router.post("/v1/completions", response_model=None)
async def completions(body: CompletionRequest, request: Request, state: Served, caller: Caller) -> Any:
    generations = await _start(body, request, state, caller)
    ident, created = new_id("cmpl-"), int(time.time())
    model = generations[0].params.adapter or state.model_id
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        events = _events(body, generations, request, state, ident, created, model, include_usage)
        return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
    try:
        results = await until_disconnect(request, asyncio.gather(*(g.collect() for g in generations)))
    except ClientGone:
        for generation in generations:
            generation.handle.cancel()
        _account(state, request, generations, 499, body.user)
        return Response(status_code=499)
    _account(state, request, generations, 200, body.user)
    choices = []
    for index, (generation, chunks) in enumerate(zip(generations, results, strict=True)):
        logprobs = None
        if body.logprobs is not None:
            logprobs = _logprobs(chunks, state.tokenizer, len(generation.echo))
        choices.append(
            {
                "index": index,
                "text": generation.text,
                "finish_reason": FINISH.get(generation.outcome.finish or "length", "stop"),
                "logprobs": logprobs,
            }
        )
    return {
        "id": ident,
        "object": "text_completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": choices,
        "usage": _usage(generations),
    }


async def _events(
    body: CompletionRequest,
    generations: list[Generation],
    request: Request,
    state: ServerState,
    ident: str,
    created: int,
    model: str,
    include_usage: bool,
) -> AsyncIterator[str]:
    def event(choices: list[dict[str, Any]], **extra: Any) -> str:
        payload = {
            "id": ident,
            "object": "text_completion",
            "created": created,
            "model": model,
            "system_fingerprint": None,
            "choices": choices,
            **extra,
        }
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    status = 499
    try:
        for index, generation in enumerate(generations):  # submitted together; streamed one after another
            offset = 0
            if generation.echo:
                yield event(
                    [{"index": index, "text": generation.echo, "finish_reason": None, "logprobs": None}]
                )
                offset = len(generation.echo)
            async for batch in generation.batches():
                lines = []
                for chunk in batch:
                    logprobs = None
                    if body.logprobs is not None:
                        logprobs = _logprobs([chunk], state.tokenizer, offset)
                    offset += len(chunk.text)
                    finish = FINISH[chunk.finish] if chunk.finish else None
                    if chunk.text or finish or logprobs:
                        choice = {
                            "index": index,
                            "text": chunk.text,
                            "finish_reason": finish,
                            "logprobs": logprobs,
                        }
                        lines.append(event([choice]))
                if lines:
                    yield "".join(lines)
        if include_usage:
            yield event([], usage=_usage(generations))
        yield "data: [DONE]\n\n"
        status = 200
    except Exception as exc:
        error = from_exception(exc)
        status = error.status
        yield f"data: {json.dumps(error_body(error, '/v1/completions'), ensure_ascii=False)}\n\n"
    finally:
        if status != 200:
            for generation in generations:
                generation.handle.cancel()
        _account(state, request, generations, status, body.user)


# --- tokenizer routes ---------------------------------------------------------------------------------


class TokenizeRequest(Strict):
    """TGI ``POST /tokenize``: ``inputs`` split into tokens (``parameters`` as in /generate are
    accepted only empty: tokenizing does not depend on them)."""

    inputs: str = Field(min_length=1)
    parameters: dict[str, Any] | None = None


@router.post("/tokenize")
async def tokenize(body: TokenizeRequest, request: Request, state: Served, caller: Caller) -> Any:
    """TGI's shape: ``[{id, text, start, stop}]``, the tokens of ``inputs`` as given (no chat template,
    no special tokens; /v1/tokenize counts what generation sees), ``start``/``stop`` character offsets.
    The text is what a response would show: with the output guard on, personal data is masked first."""
    if body.parameters:
        raise refuse("parameters", "tokenizing takes no parameters; send inputs alone")
    check_prompt_bytes([body.inputs], state.engine.info.context, "inputs")
    found = state.personal_data(request)

    def split() -> list[dict[str, Any]]:
        text = state.pii_guard.filter_prompt(body.inputs, found["prompt"])
        text = state.pii_guard.filter_echo(text, found["output"])
        encoded = state.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return [
            {"id": i, "text": text[start:stop], "start": start, "stop": stop}
            for i, (start, stop) in zip(encoded["input_ids"], encoded["offset_mapping"], strict=True)
        ]

    tokens = await state.prompt_workers.run(caller.credential_id, split)
    state.account(request, status=200)
    return tokens


class CountRequest(Strict):
    """``POST /v1/tokenize``: how many tokens a prompt (as /v1/completions sees it) or messages (as
    /v1/chat/completions sees them, chat template included) take, against the model's context."""

    model: str | None = None
    prompt: str | None = None
    messages: list[ChatMessage] | None = None


@router.post("/v1/tokenize")
async def count_tokens(body: CountRequest, request: Request, state: Served, caller: Caller) -> Any:
    """``{count, max_model_len}`` (vLLM's names); no token ids or text come back."""
    if (body.prompt is None) == (body.messages is None):
        raise refuse(
            "prompt", "send either prompt (a completion prompt) or messages (a chat), not both or none"
        )
    choose_model(request, state, caller, body.model, "model")
    texts = [body.prompt] if body.prompt is not None else [m.text() for m in body.messages or []]
    check_prompt_bytes(texts, state.engine.info.context, "prompt" if body.prompt is not None else "messages")
    found = state.personal_data(request)["prompt"]

    def count() -> int:
        if body.prompt is not None:
            return len(raw_prompt_ids(state.tokenizer, state.pii_guard.filter_prompt(body.prompt, found)))
        messages = [
            {
                "role": "system" if m.role == "developer" else m.role,
                "content": state.pii_guard.filter_prompt(t, found),
            }
            for m, t in zip(body.messages or [], texts, strict=True)
        ]
        return len(chat_prompt_ids(state.tokenizer, state.template, messages))

    counted = await state.prompt_workers.run(caller.credential_id, count)
    state.account(request, status=200)
    return {"count": counted, "max_model_len": state.engine.info.context}
