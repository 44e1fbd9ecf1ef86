"""text-generation-inference routes: ``POST /generate``, ``/generate_stream`` (SSE), ``/``, ``GET /info``.

TGI ``inputs`` go through the model's chat template as one user message (the model was trained on
that format); ``return_full_text`` prepends the inputs as sent (through the output guard, like all the
text of a response).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from stockade import __version__
from stockade.api.deps import Caller, Served
from stockade.api.disconnect import ClientGone, until_disconnect
from stockade.api.errors import error_body, from_exception
from stockade.api.routes.generation import Generation
from stockade.api.schemas import TgiParameters, TgiRequest
from stockade.api.state import ServerState
from stockade.serving.params import MAX_STOP_SEQUENCES, GenerationParams
from stockade.serving.prompts import templated_prompt_ids
from stockade.serving.stream import Chunk

router = APIRouter(tags=["text-generation-inference"])
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
DEFAULT_MAX_NEW_TOKENS = 100


def _params(parameters: TgiParameters) -> GenerationParams:
    return GenerationParams(
        max_new_tokens=parameters.max_new_tokens or DEFAULT_MAX_NEW_TOKENS,
        temperature=parameters.temperature,
        top_p=parameters.top_p,
        top_k=parameters.top_k,
        do_sample=parameters.do_sample,
        stop=tuple(parameters.stop),
        seed=parameters.seed,
        repetition_penalty=parameters.repetition_penalty,
    )


def _start(body: TgiRequest, request: Request, state: ServerState) -> Generation:
    found = state.personal_data(request)
    inputs = state.pii_guard.filter_prompt(body.inputs, found["prompt"])
    echo = ""
    if body.parameters.return_full_text:  # the inputs sent back are part of the response
        echo = state.pii_guard.filter_echo(body.inputs, found["output"])
    prompt_ids = templated_prompt_ids(state.tokenizer, state.template, inputs)
    return Generation(state, request, prompt_ids, _params(body.parameters), include_stop=True, echo=echo)


def _token(chunk: Chunk) -> dict[str, Any]:
    return {"id": chunk.token_id, "text": chunk.text, "logprob": chunk.logprob, "special": chunk.special}


def _token_event(index: int, chunk: Chunk) -> str:
    """One token's SSE event, formatted directly (the hot path: one per generated token)."""
    text = json.dumps(chunk.text, ensure_ascii=False)
    special = "true" if chunk.special else "false"
    return (
        f'data:{{"index":{index},"token":{{"id":{chunk.token_id},"text":{text},"logprob":{chunk.logprob!r},'
        f'"special":{special}}},"generated_text":null,"details":null,"top_tokens":null}}\n\n'
    )


@router.post("/generate")
async def generate(body: TgiRequest, request: Request, state: Served, _: Caller) -> Any:
    """Generate text for ``inputs``; with ``parameters.details`` also tokens and the finish reason."""
    generation = _start(body, request, state)
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
            "prefill": [],
            "tokens": [_token(t) for t in tokens],
        }
    return result


@router.post("/generate_stream")
async def generate_stream(body: TgiRequest, request: Request, state: Served, _: Caller) -> StreamingResponse:
    """Server-sent events, one per token; the last carries ``generated_text`` and ``details``."""
    generation = _start(body, request, state)
    return StreamingResponse(_events(generation), media_type="text/event-stream", headers=SSE_HEADERS)


@router.post("/")
async def compat(body: TgiRequest, request: Request, state: Served, caller: Caller) -> Any:
    """TGI's root route (what ``InferenceClient(base_url).text_generation`` calls): ``stream`` decides."""
    if body.stream:
        return await generate_stream(body, request, state, caller)
    result = await generate(body, request, state, caller)
    return [result] if isinstance(result, dict) else result


async def _events(generation: Generation) -> AsyncIterator[str]:
    status, index = 499, 0  # TGI reports a stream's error as a last {"error", "error_type"} event
    try:
        async for batch in generation.batches():
            lines = []
            for chunk in batch:
                if chunk.finish:
                    payload: dict[str, Any] = {
                        "index": index,
                        "token": _token(chunk),
                        "generated_text": generation.text,
                        "details": {
                            "finish_reason": chunk.finish,
                            "generated_tokens": generation.outcome.generated,
                            "seed": generation.handle.seed,
                            "input_length": len(generation.prompt_ids),
                        },
                        "top_tokens": None,
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
        "backend": engine.backend,
        "dev_mode": state.dev,
        **state.pii_guard.describe(),
    }
