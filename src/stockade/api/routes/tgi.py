"""text-generation-inference routes: ``POST /generate``, ``/generate_stream`` (SSE), ``/``, ``GET /info``.

TGI ``inputs`` go through the model's chat template as one user message (the model was trained on
that format); ``return_full_text`` prepends the inputs as sent (through the output guard, like all the
text of a response).

Every parameter of TGI's schema is honoured or refused by name (docs/serving.md lists which).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from stockade import __version__
from stockade.api.deps import Caller, Served, choose_model
from stockade.api.disconnect import ClientGone, until_disconnect
from stockade.api.errors import error_body, from_exception, refuse
from stockade.api.prompt_limits import check_prompt_bytes, tail_within_limit
from stockade.api.routes.generation import Generation
from stockade.api.schemas import TgiParameters, TgiRequest
from stockade.api.state import ServerState
from stockade.security.principal import Principal
from stockade.serving import constrained
from stockade.serving.constrained import Constraint
from stockade.serving.params import MAX_STOP_SEQUENCES, GenerationParams
from stockade.serving.pii_guard import WITHHELD_TOKEN_ID
from stockade.serving.prompts import last_tokens, templated_prompt_ids
from stockade.serving.stream import Chunk

router = APIRouter(tags=["text-generation-inference"])
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
DEFAULT_MAX_NEW_TOKENS = 100


def _params(parameters: TgiParameters, adapter: str | None = None) -> GenerationParams:
    return GenerationParams(
        max_new_tokens=parameters.max_new_tokens or DEFAULT_MAX_NEW_TOKENS,
        temperature=parameters.temperature,
        top_p=parameters.top_p,
        top_k=parameters.top_k,
        do_sample=parameters.do_sample,
        stop=tuple(parameters.stop),
        seed=parameters.seed,
        repetition_penalty=parameters.repetition_penalty,
        typical_p=parameters.typical_p,
        frequency_penalty=parameters.frequency_penalty,
        top_logprobs=parameters.top_n_tokens or 0,
        prompt_logprobs=parameters.decoder_input_details,
        adapter=adapter,
        constraint=_grammar(parameters.grammar),
    )


def _grammar(grammar: Any) -> Constraint | None:
    """TGI's ``grammar``: ``{"type": "json", "value": SCHEMA}``, ``{"type": "json_schema", "value":
    {"schema": SCHEMA}}`` or ``{"type": "regex", "value": PATTERN}``, enforced by constrained decoding."""
    if grammar is None:
        return None
    field = "parameters.grammar"
    kind, value = (grammar.get("type"), grammar.get("value")) if isinstance(grammar, dict) else (None, None)
    if kind == "json":
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise refuse(field, f"the json grammar's value is not JSON ({exc.msg})") from exc
        return constrained.json_schema(value, field) if value else constrained.json_object(field)
    if kind == "json_schema" and isinstance(value, dict) and isinstance(value.get("schema"), dict):
        return constrained.json_schema(value["schema"], field)
    if kind == "regex" and isinstance(value, str) and value:
        return constrained.regex(value, field)
    raise refuse(
        field,
        'send {"type": "json", "value": SCHEMA}, {"type": "json_schema", "value": {"schema": SCHEMA}} '
        'or {"type": "regex", "value": PATTERN}',
    )


def _refuse_unserved(parameters: TgiParameters, state: ServerState, *, stream: bool) -> None:
    """The parameters of TGI's schema this server does not serve (with the value sent): 422 by name."""
    if parameters.watermark:
        raise refuse("parameters.watermark", "watermarking is not supported by this server; send false")
    if parameters.best_of not in (None, 1):
        raise refuse("parameters.best_of", "only best_of=1 is served (one sequence per request)")
    if parameters.decoder_input_details and stream:
        raise refuse(
            "parameters.decoder_input_details", "not available when streaming (as in TGI); use /generate"
        )
    if parameters.decoder_input_details and state.pii_guard.output != "off":
        raise refuse(
            "parameters.decoder_input_details",
            "not available while the output guard is on (--pii-filter): the prompt's tokens would be sent "
            "back without it",
        )
    if not stream and not parameters.details:  # /generate reports them only in details
        for name in ("top_n_tokens", "decoder_input_details"):
            if getattr(parameters, name):
                raise refuse(f"parameters.{name}", "reported in details: send details: true as well")


async def _start(
    body: TgiRequest, request: Request, state: ServerState, caller: Principal, *, stream: bool
) -> Generation:
    _refuse_unserved(body.parameters, state, stream=stream)
    adapter = choose_model(request, state, caller, body.parameters.adapter_id, "parameters.adapter_id")
    context, inputs = state.engine.info.context, body.inputs
    if body.parameters.truncate is None:  # before any tokenising
        check_prompt_bytes([inputs], context, "inputs")
    else:  # only the last tokens count: the rest is never tokenised
        inputs = tail_within_limit(inputs, context)
    found = state.personal_data(request)

    def prepare() -> tuple[list[int], str]:  # in a worker thread: never on the event loop
        text = state.pii_guard.filter_prompt(inputs, found["prompt"])
        echo = ""
        if body.parameters.return_full_text:  # the inputs sent back are part of the response
            echo = state.pii_guard.filter_echo(body.inputs, found["output"])
        if body.parameters.truncate is not None:  # the last N tokens of inputs, then the template
            text = last_tokens(state.tokenizer, text, body.parameters.truncate)
        return templated_prompt_ids(state.tokenizer, state.template, text), echo

    prompt_ids, echo = await state.prompt_workers.run(caller.credential_id, prepare)
    params = _params(body.parameters, adapter)
    return Generation(state, request, prompt_ids, params, include_stop=True, echo=echo)


def _token(chunk: Chunk) -> dict[str, Any]:
    return {"id": chunk.token_id, "text": chunk.text, "logprob": chunk.logprob, "special": chunk.special}


def _top_tokens(chunk: Chunk, tokenizer: Any) -> list[dict[str, Any]]:
    """The step's most likely tokens; none for a token withheld by the output guard (they would show it)."""
    if chunk.token_id == WITHHELD_TOKEN_ID:
        return []
    special = frozenset(getattr(tokenizer, "all_special_ids", ()))
    return [
        {"id": i, "text": tokenizer.decode([i]), "logprob": lp, "special": i in special}
        for i, lp in chunk.top
    ]


def _prefill(generation: Generation) -> list[dict[str, Any]]:
    """``decoder_input_details``: the prompt as the model saw it (chat template included), per token."""
    logprobs = generation.handle.prompt_logprobs or []
    decode = generation.state.tokenizer.decode
    return [
        {"id": i, "text": decode([i]), "logprob": lp}
        for i, lp in zip(generation.prompt_ids, logprobs, strict=False)
    ]


def _token_event(index: int, chunk: Chunk) -> str:
    """One token's SSE event, formatted directly (the hot path: one per generated token)."""
    text = json.dumps(chunk.text, ensure_ascii=False)
    special = "true" if chunk.special else "false"
    return (
        f'data:{{"index":{index},"token":{{"id":{chunk.token_id},"text":{text},"logprob":{chunk.logprob!r},'
        f'"special":{special}}},"generated_text":null,"details":null,"top_tokens":null}}\n\n'
    )


@router.post("/generate")
async def generate(body: TgiRequest, request: Request, state: Served, caller: Caller) -> Any:
    """Generate text for ``inputs``; with ``parameters.details`` also tokens and the finish reason."""
    if body.stream:
        raise refuse("stream", "/generate answers in one response; stream with /generate_stream (or /)")
    generation = await _start(body, request, state, caller, stream=False)
    try:
        tokens = await until_disconnect(request, generation.collect())
    except ClientGone:
        generation.account(499)
        return Response(status_code=499)
    generation.account(200)
    result: dict[str, Any] = {"generated_text": generation.text}
    if body.parameters.details:
        result["details"] = {
            "finish_reason": generation.outcome.finish,
            "generated_tokens": generation.outcome.generated,
            "seed": generation.handle.seed,
            "prefill": _prefill(generation) if body.parameters.decoder_input_details else [],
            "tokens": [_token(t) for t in tokens],
        }
        if body.parameters.top_n_tokens:
            result["details"]["top_tokens"] = [_top_tokens(t, state.tokenizer) for t in tokens]
    return result


@router.post("/generate_stream")
async def generate_stream(
    body: TgiRequest, request: Request, state: Served, caller: Caller
) -> StreamingResponse:
    """Server-sent events, one per token; the last carries ``generated_text`` and ``details``."""
    if "stream" in body.model_fields_set and not body.stream:
        raise refuse("stream", "/generate_stream always streams; send stream: true or leave it out")
    generation = await _start(body, request, state, caller, stream=True)
    events = _events(generation, bool(body.parameters.top_n_tokens))
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)


@router.post("/")
async def compat(body: TgiRequest, request: Request, state: Served, caller: Caller) -> Any:
    """TGI's root route (what ``InferenceClient(base_url).text_generation`` calls): ``stream`` decides."""
    if body.stream:
        return await generate_stream(body, request, state, caller)
    result = await generate(body, request, state, caller)
    return [result] if isinstance(result, dict) else result


async def _events(generation: Generation, top_tokens: bool) -> AsyncIterator[str]:
    status, index = 499, 0  # TGI reports a stream's error as a last {"error", "error_type"} event
    try:
        async for batch in generation.batches():
            lines = []
            for chunk in batch:
                if chunk.finish or top_tokens:
                    payload: dict[str, Any] = {
                        "index": index,
                        "token": _token(chunk),
                        "generated_text": generation.text if chunk.finish else None,
                        "details": {
                            "finish_reason": chunk.finish,
                            "generated_tokens": generation.outcome.generated,
                            "seed": generation.handle.seed,
                            "input_length": len(generation.prompt_ids),
                        }
                        if chunk.finish
                        else None,
                        "top_tokens": _top_tokens(chunk, generation.state.tokenizer) if top_tokens else None,
                    }
                    lines.append(f"data:{json.dumps(payload, ensure_ascii=False)}\n\n")
                else:
                    lines.append(_token_event(index, chunk))
                index += 1
            yield "".join(lines)
        status = 200
    except Exception as exc:
        error = from_exception(exc)
        status = error.status
        yield f"data:{json.dumps(error_body(error, '/generate_stream'), ensure_ascii=False)}\n\n"
    finally:
        generation.account(status)


@router.get("/info")
async def info(state: Served, _: Caller) -> dict[str, Any]:
    engine = state.engine.info
    return {
        "model_id": state.model_id,
        "model_sha": None,
        "model_dtype": engine.dtype,
        "model_device_type": engine.device.split(":")[0],
        "model_pipeline_tag": "text-generation",
        "max_concurrent_requests": engine.max_batch_size + engine.max_waiting,
        "max_best_of": 1,
        "max_stop_sequences": MAX_STOP_SEQUENCES,
        "max_input_tokens": engine.context - 1,
        "max_input_length": engine.context - 1,
        "max_total_tokens": engine.context,
        "max_batch_size": engine.max_batch_size,
        "max_client_batch_size": 1,
        "validation_workers": 1,
        "router": "stockade",
        "version": __version__,
        "sha": None,  # TGI: the server build's git commit; a Stockade release is named by version
        "docker_label": None,
        "adapters": list(state.adapters),  # served on the base; a request names one in adapter_id
        "backend": engine.backend,
        "dev_mode": state.dev,
        **state.pii_guard.describe(),
    }
