"""Constrained decoding in the engine: the mask is per row (a batch mixes grammars and free rows), a
finished grammar ends its row with end-of-sequence, a bad grammar is a 422 before any work, and the
vLLM backend refuses constraints by name."""

from __future__ import annotations

import asyncio
import json
import re
import sys

import pytest

from stockade.serving import constrained
from stockade.serving.errors import InvalidRequest
from stockade.serving.params import GenerationParams

torch = pytest.importorskip("torch")
pytest.importorskip("llguidance")
SCHEMA = {
    "type": "object",
    "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 99}, "ok": {"type": "boolean"}},
    "required": ["n", "ok"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def engine(tiny):
    from tests.serving.helpers import make_engine

    model, tokenizer = tiny
    engine = make_engine(model, tokenizer, max_batch_size=4)
    yield engine
    engine.stop()


async def _run(engine, prompt: list[int], params: GenerationParams) -> list[int]:
    handle = engine.submit(prompt, params)
    tokens = []
    while True:
        event = await asyncio.wait_for(handle.events.get(), 60)
        if event.error is not None:
            raise event.error
        tokens.append(event.token_id)
        if event.finish:
            return tokens


def test_rows_with_and_without_grammars_share_a_batch(engine, tiny) -> None:
    tokenizer = tiny[1]
    prompt = tokenizer("存款利率是多少", add_special_tokens=False)["input_ids"]
    free = GenerationParams(max_new_tokens=20)
    json_params = GenerationParams(max_new_tokens=60, constraint=constrained.json_schema(SCHEMA, "test"))
    regex_params = GenerationParams(max_new_tokens=20, constraint=constrained.regex("[a-c]{3}-[0-9]", "test"))

    async def main():
        alone = await _run(engine, prompt, free)
        before = engine.counters().max_rows_in_pass
        together = await asyncio.gather(
            _run(engine, prompt, json_params), _run(engine, prompt, free), _run(engine, prompt, regex_params)
        )
        return alone, before, together

    alone, before, (as_json, free_again, as_regex) = asyncio.run(main())
    assert before == 1 and engine.counters().max_rows_in_pass >= 2  # they really were decoded together
    assert free_again == alone  # a neighbour's mask does not touch a free row
    eos = engine.info.eos_token_ids
    assert as_json[-1] in eos and as_regex[-1] in eos  # a complete grammar ends the row
    value = json.loads(tokenizer.decode(as_json[:-1]))
    assert set(value) == {"n", "ok"} and 0 <= value["n"] <= 99
    assert re.fullmatch("[a-c]{3}-[0-9]", tokenizer.decode(as_regex[:-1]))
    assert not tokenizer.decode(alone).startswith("{")


@pytest.mark.parametrize(
    ("constraint", "message"),
    [
        (constrained.regex("[a-", "parameters.grammar"), "parameters.grammar: the regex cannot be used"),
        (constrained.json_schema({"type": 3}, "response_format"), "response_format: the json schema"),
        (constrained.lark("start: nothing_here", "tools"), "tools: the lark cannot be used"),
    ],
)
def test_a_grammar_that_does_not_compile_is_refused_at_submit(engine, constraint, message: str) -> None:
    async def main():
        engine.submit([1, 2, 3], GenerationParams(max_new_tokens=4, constraint=constraint))

    with pytest.raises(InvalidRequest, match=re.escape(message)):
        asyncio.run(main())
    assert engine.idle()


def test_the_vllm_backend_refuses_constraints_by_name(
    tiny_model_dir, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stockade.serving.vllm_engine import VllmEngine
    from tests.serving.test_vllm_engine import fake_vllm

    monkeypatch.setitem(sys.modules, "vllm", fake_vllm())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    engine = VllmEngine(tiny_model_dir, model_id="tiny@v1", context=256, max_batch_size=4, max_waiting=4)

    async def main():
        engine.submit([1, 2], GenerationParams(constraint=constrained.json_object("response_format")))

    with pytest.raises(InvalidRequest, match=r"response_format: constrained decoding .* vllm backend"):
        asyncio.run(main())


def test_without_llguidance_a_constraint_is_refused_with_the_install_line(
    engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "_grammars", None)  # as start() leaves it where llguidance is missing

    async def main():
        engine.submit([1, 2, 3], GenerationParams(constraint=constrained.json_object("response_format")))

    with pytest.raises(
        InvalidRequest,
        match=r"response_format: constrained decoding is not available: the llguidance package",
    ) as caught:
        asyncio.run(main())
    assert "stockade[serve]" in caught.value.fix


def test_a_tokenizer_llguidance_cannot_read_refuses_grammars_but_serves(
    tiny, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.serving.helpers import make_engine

    def unreadable(*args, **kwargs):
        raise ValueError("no byte table")

    monkeypatch.setattr("stockade.serving.hf_engine.Grammars", unreadable)
    engine = make_engine(*tiny)
    try:

        async def main():
            with pytest.raises(InvalidRequest, match=r"cannot read this tokenizer .*no byte table"):
                engine.submit(
                    [1, 2, 3], GenerationParams(constraint=constrained.regex("a+", "parameters.grammar"))
                )
            return await _run(engine, [1, 2, 3], GenerationParams(max_new_tokens=3))

        assert len(asyncio.run(main())) == 3
    finally:
        engine.stop()


def test_json_object_means_any_object_and_only_an_object(engine, tiny) -> None:
    tokenizer = tiny[1]

    def accepts(text: str) -> bool:
        matcher = engine._grammars.matcher(constrained.json_object("response_format"))
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        return matcher.consume_tokens(ids) and matcher.is_accepting()

    assert accepts('{"a": [1, {"b": null}], "c": "存款"}') and accepts("{}")
    for other in ("[1, 2]", '"text"', "42", '{"a": 1} trailing', '{"a":1}'):  # '{"a":1}': separators
        assert not accepts(other), other
