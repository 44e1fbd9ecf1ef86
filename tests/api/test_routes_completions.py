"""OpenAI ``POST /v1/completions`` through the real ``openai`` client: raw prompts (no chat template),
one choice per prompt, the same sampling fields as chat, streamed and not (issue 18, routes)."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import build_app
from tests.serving.helpers import TOKEN, serve_live

AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROMPT = "债券违约风险是指"


@pytest.fixture(scope="module")
def client(live):
    from openai import OpenAI

    return OpenAI(base_url=f"{live.url}/v1", api_key=TOKEN, max_retries=0)


def _greedy(tiny, prompt: str, count: int) -> str:
    """What the model itself continues ``prompt`` with (no template): ``generate`` on the raw ids."""
    import torch

    model, tokenizer = tiny
    ids = torch.tensor([tokenizer(prompt)["input_ids"]])
    with torch.inference_mode():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=count, do_sample=False)
    return tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)


def test_completion_is_the_raw_prompts_continuation_streamed_or_not(client, tiny) -> None:
    kwargs = {"model": "tiny@v1", "prompt": PROMPT, "max_tokens": 10, "temperature": 0}
    reply = client.completions.create(**kwargs)
    chunks = list(client.completions.create(stream=True, stream_options={"include_usage": True}, **kwargs))
    streamed = "".join(c.choices[0].text for c in chunks if c.choices)
    assert reply.choices[0].text == streamed == _greedy(tiny, PROMPT, 10)
    assert reply.object == "text_completion" and reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 10 and chunks[-1].usage.completion_tokens == 10
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"


def test_a_list_of_prompts_gives_one_choice_each(client) -> None:
    prompts = [PROMPT, "存款利率", "客户资料"]
    kwargs = {"model": "tiny@v1", "max_tokens": 6, "temperature": 0}
    together = client.completions.create(prompt=prompts, **kwargs)
    alone = [client.completions.create(prompt=p, **kwargs).choices[0].text for p in prompts]
    assert [c.index for c in together.choices] == [0, 1, 2]
    assert [c.text for c in together.choices] == alone
    assert together.usage.completion_tokens == 18
    streamed = list(client.completions.create(prompt=prompts, stream=True, **kwargs))
    texts = [
        "".join(c.choices[0].text for c in streamed if c.choices and c.choices[0].index == i)
        for i in range(3)
    ]
    assert texts == alone


def test_echo_logprobs_and_stop(client) -> None:
    kwargs = {"model": "tiny@v1", "prompt": PROMPT, "max_tokens": 12, "temperature": 0}
    plain = client.completions.create(**kwargs).choices[0].text
    echoed = client.completions.create(echo=True, **kwargs).choices[0].text
    assert echoed == PROMPT + plain
    choice = client.completions.create(logprobs=2, **kwargs).choices[0]
    logprobs = choice.logprobs
    assert len(logprobs.tokens) == len(logprobs.token_logprobs) == len(logprobs.top_logprobs) == 12
    assert all(len(top) <= 2 and top for top in logprobs.top_logprobs)  # distinct texts may merge
    assert all(lp <= 0 for lp in logprobs.token_logprobs)
    assert logprobs.text_offset[0] == 0 and "".join(logprobs.tokens).startswith(plain[:2])
    stop = plain[4:6]
    cut = client.completions.create(stop=[stop], **kwargs).choices[0]
    assert cut.text == plain[: plain.index(stop)] and cut.finish_reason == "stop"


def test_seeded_sampling_repeats_and_penalties_change_the_text(client) -> None:
    kwargs = {"model": "tiny@v1", "prompt": PROMPT, "max_tokens": 24}
    first = client.completions.create(temperature=1.3, seed=4, **kwargs).choices[0].text
    assert first == client.completions.create(temperature=1.3, seed=4, **kwargs).choices[0].text
    assert first != client.completions.create(temperature=1.3, seed=5, **kwargs).choices[0].text
    greedy = client.completions.create(temperature=0, **kwargs).choices[0].text
    for field in ("frequency_penalty", "presence_penalty"):
        assert client.completions.create(temperature=0, **{field: 2.0}, **kwargs).choices[0].text != greedy
    top_p = client.completions.create(temperature=1.5, top_p=1e-6, seed=9, **kwargs).choices[0].text
    assert top_p == greedy  # only the best token is left


REFUSED = [
    ({"n": 2}, "n", "only one choice per prompt"),
    ({"best_of": 2}, "best_of", "only best_of=1"),
    ({"suffix": "。"}, "suffix", "insertion"),
    ({"prompt": [1, 2, 3]}, "prompt", "token-id prompts are not served"),
    ({"prompt": []}, "prompt", "non-empty list"),
    ({"logit_bias": {"15": 5}}, None, "unsupported field(s) logit_bias"),
    ({"model": "other@v1"}, "model", "not served here"),
    ({"prompt": ["债券", "利" * 2000]}, "prompt", "the prompt is over 4096 bytes"),  # before tokenising
]


@pytest.mark.parametrize(("fields", "param", "message"), REFUSED)
def test_unserved_fields_are_refused_by_name(live, fields: dict, param: str | None, message: str) -> None:
    body = {"model": "tiny@v1", "prompt": PROMPT, "max_tokens": 4, **fields}
    response = httpx.post(f"{live.url}/v1/completions", json=body, headers=AUTH, timeout=60)
    assert response.status_code in (404, 422), response.text
    error = response.json()["error"]
    assert message in error["message"] and error["param"] == param


def test_user_is_recorded_hashed_and_the_route_needs_a_token(tiny) -> None:
    class Audit:
        def __init__(self) -> None:
            self.records: list[dict] = []

        def record(self, action: str, target: str | None, **details) -> None:
            self.records.append({"action": action, **details})

    audit = Audit()
    app, engine = build_app(tiny, audit=audit)
    server = serve_live(app)
    try:
        body = {"prompt": [PROMPT, "存款"], "max_tokens": 3, "temperature": 0, "user": "bob@example.com"}
        ok = httpx.post(f"{server.url}/v1/completions", json=body, headers=AUTH, timeout=60)
        assert ok.status_code == 200, ok.text
        denied = httpx.post(f"{server.url}/v1/completions", json=body, timeout=60)
        assert denied.status_code == 401
    finally:
        server.stop()
        engine.stop()
    (record,) = [r for r in audit.records if r.get("route") == "/v1/completions" and r["status"] == 200]
    assert record["end_user"].startswith("sha256:") and "bob" not in str(record)
    assert record["generated_tokens"] == 6  # both prompts in one record
