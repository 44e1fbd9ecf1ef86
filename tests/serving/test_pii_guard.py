"""The serving output guard: personal data in responses is masked (or blocked) before it leaves, streams
included, whatever the chunking; a tiny model trained to say an ID number proves it end to end."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from stockade.serving.errors import PersonalDataBlocked
from stockade.serving.pii_guard import (
    MAX_TAIL,
    MIN_HOLD,
    RELEASE_STEP,
    WITHHELD_TOKEN_ID,
    OutputFilter,
    PiiGuard,
    identifier_tail,
)
from stockade.serving.stream import Chunk


def id_number(body17: str) -> str:
    """A resident ID number with its GB 11643 check character."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body17 + "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights, strict=True)) % 11]


ID = id_number("11010519900307123")  # 110105199003071239
MOBILE = "13812345678"
FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
ANSWER = f"客户身份证号{ID}，手机{MOBILE}。"

TEXTS = [
    ANSWER,
    f"身份证 {ID[:6]} {ID[6:14]} {ID[14:]} 已核实",  # spaced
    f"证件号码：{ID.translate(FULLWIDTH)}",  # full-width digits, and the value ends the text
    f"请联系{MOBILE}或发邮件至 zhang.san@example.com.cn 谢谢",
    f"客户张三丰的地址是北京市朝阳区建国路88号院3号楼，车牌京A12345，身份证{ID}。",
]


@pytest.fixture(scope="module")
def guard() -> PiiGuard:
    return PiiGuard("mask")


def chunked(text: str, cuts: list[int]) -> list[Chunk]:
    bounds = [0, *cuts, len(text)]
    pieces = [text[a:b] for a, b in itertools.pairwise(bounds)]
    return [
        Chunk(100 + i, -0.5, piece, False, "length" if i == len(pieces) - 1 else None)
        for i, piece in enumerate(pieces)
    ]


def run_filter(guard: PiiGuard, chunks: list[Chunk], mode: str = "mask") -> tuple[OutputFilter, list[Chunk]]:
    """Push one chunk at a time (the slowest stream); return the filter and every chunk released."""
    out_filter = OutputFilter(guard.engine, mode)  # type: ignore[arg-type]
    released: list[Chunk] = []
    for chunk in chunks:
        released += out_filter.push([chunk])
        sent = "".join(c.text for c in released)
        assert not re.search(r"\d{7}", sent.translate(str.maketrans("０１２３４５６７８９", "0123456789")))
    return out_filter, released


# -- the streaming guard, unit by unit ----------------------------------------------------------------


@pytest.mark.parametrize("text", TEXTS)
def test_a_value_split_at_any_two_places_streams_masked_as_the_whole_text(guard, text: str) -> None:
    whole = guard.engine.desensitize(text)[0]
    assert "<" in whole
    for i in range(1, len(text)):
        for j in range(i + 1, len(text), 3):
            _, released = run_filter(guard, chunked(text, [i, j]))
            assert "".join(c.text for c in released) == whole, (i, j)


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_a_value_over_many_chunks_at_every_offset_is_masked(guard, text: str, size: int) -> None:
    whole = guard.engine.desensitize(text)[0]
    for offset in range(size):
        cuts = list(range(offset or size, len(text), size))
        out_filter, released = run_filter(guard, chunked(text, cuts))
        assert "".join(c.text for c in released) == whole == out_filter.text
        assert len(released) == len(cuts) + 1  # every token gets its event (some with empty text)
        assert released[-1].finish == "length"


def test_masked_tokens_withhold_their_ids_and_counts_are_by_type(guard) -> None:
    out_filter, released = run_filter(guard, chunked(ANSWER, list(range(1, len(ANSWER)))))
    withheld = [c for c in released if c.token_id == WITHHELD_TOKEN_ID]
    assert len(withheld) == len(ID) + len(MOBILE)  # one token per character here
    assert [c.text for c in withheld if c.text] == ["<身份证号>", "<手机号>"]
    assert all(c.logprob == -0.5 for c in released)  # the model's log-probabilities are kept
    assert [c.token_id for c in released if c.token_id != WITHHELD_TOKEN_ID][:6] == list(range(100, 106))
    assert out_filter.counts == Counter({"id_card": 1, "mobile": 1})


def test_text_without_personal_data_passes_unchanged_held_at_most_the_tail(guard) -> None:
    text = (
        "您好，LPR是贷款市场报价利率，一年期为3.45%，五年期以上为3.95%。"
        "The loan prime rate is set monthly on the 20th; rates are quoted per annum. 谢谢！"
    )
    out_filter = OutputFilter(guard.engine, "mask")
    sent = ""
    for i, char in enumerate(text):
        for chunk in out_filter.push([Chunk(i, 0.0, char, False, None)]):
            assert chunk.text == text[chunk.token_id]  # the same token, unchanged
            sent += chunk.text
        seen = text[: i + 1]
        assert seen.startswith(sent)
        held = len(seen) - len(sent)
        assert held < max(MIN_HOLD, identifier_tail(seen) + 1) + RELEASE_STEP, (seen, sent)
        assert held < MAX_TAIL + 1 + RELEASE_STEP
    sent += "".join(c.text for c in out_filter.push([Chunk(0, 0.0, "", True, "eos_token")]))
    assert sent == text and not out_filter.counts


def test_block_mode_withholds_the_value_and_says_why(guard) -> None:
    out_filter, released = run_filter(guard, chunked(ANSWER, list(range(2, len(ANSWER), 2))), "block")
    assert out_filter.blocked == ["id_card", "mobile"]  # both were in the text held when it decided
    sent = "".join(c.text for c in released)
    assert ANSWER.startswith(sent) and len(sent) <= ANSWER.index(ID)  # only text before the value
    assert out_filter.push([Chunk(1, 0.0, "more", False, "length")]) == []  # nothing after a block
    error = out_filter.blocked_error()
    assert error.status == 451 and "id_card" in error.what and ID not in error.what
    clean, released = run_filter(guard, chunked("一年期LPR为3.45%。", [3, 6]), "block")
    assert clean.blocked is None and "".join(c.text for c in released) == "一年期LPR为3.45%。"


def test_prompts_are_masked_or_refused_on_their_own_mode() -> None:
    counts: Counter[str] = Counter()
    masking = PiiGuard("off", "mask")
    assert masking.output_filter() is None
    assert masking.filter_prompt(f"查询{ID}的余额", counts) == "查询<身份证号>的余额"
    assert masking.filter_prompt("你好", counts) == "你好" and counts == Counter({"id_card": 1})
    with pytest.raises(PersonalDataBlocked, match=r"prompt contains personal data \(mobile\)"):
        PiiGuard("mask", "block").filter_prompt(f"我的手机{MOBILE}", Counter())
    assert PiiGuard("off", "off").filter_prompt(f"查询{ID}", counts) == f"查询{ID}"
    assert PiiGuard("mask").filter_echo(f"查询{ID}", counts) == "查询<身份证号>"


def test_an_unknown_mode_is_refused_by_name() -> None:
    with pytest.raises(Exception, match="pii_filter must be one of mask, block, off, not 'redact'"):
        PiiGuard("redact")


# -- end to end: a tiny model trained to say an ID number and a mobile number ---------------------------

QUESTION = "客户资料"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny Qwen2 and a LoRA adapter that answers QUESTION with ANSWER (the training service, ~5 s)."""
    import torch

    from stockade.models.tiny import build_tiny_model
    from tests.serving.helpers import train_adapter

    torch.set_num_threads(4)
    root = tmp_path_factory.mktemp("pii")
    path = build_tiny_model("qwen2", root / "qwen2", seed=0).path
    return path, train_adapter(path, QUESTION, ANSWER, root / "run", cutoff_len=128)


class AuditRecorder:
    """What the serving audit writer appends, kept in memory (a workspace's ``context.record``)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def record(self, action: str, target: str | None, *, result: str = "ok", **details: Any) -> None:
        self.records.append({"action": action, "target": target, "result": result, **details})

    def requests(self, count: int) -> list[dict[str, Any]]:
        import time

        deadline = time.monotonic() + 10
        while len(found := [r for r in self.records if r["action"] == "serve.request"]) < count:
            assert time.monotonic() < deadline, self.records
            time.sleep(0.02)
        return found


class PromptSpy:
    """The engine, recording each submitted prompt (to see what the model was given)."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.prompts: list[list[int]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def submit(self, prompt_ids: list[int], params: Any, *, timeout: float | None = None) -> Any:
        self.prompts.append(list(prompt_ids))
        return self._engine.submit(prompt_ids, params, timeout=timeout)


@pytest.fixture(scope="module")
def servers(trained) -> Iterator[dict[str, Any]]:
    """One engine over the trained model; a live server per guard setting, each with its audit trail."""
    from stockade.api.app import create_app
    from stockade.data.templates import resolve_template
    from stockade.serving.audit_writer import AuditWriter
    from stockade.serving.hf_loader import load_model
    from tests.serving.helpers import FixedTokenAuthenticator, make_engine, serve_live

    path, adapter = trained
    model, tokenizer = load_model(path, adapter=adapter, device="cpu", load_in_4bit=False)
    engine = make_engine(model, tokenizer)
    spy = PromptSpy(engine)
    running = {}
    for name, guard in {
        "mask": PiiGuard("mask"),
        "off": PiiGuard("off"),
        "block": PiiGuard("block"),
        "prompts": PiiGuard("off", "mask"),
    }.items():
        recorder = AuditRecorder()
        app = create_app(
            spy if name == "prompts" else engine,
            authenticator=FixedTokenAuthenticator(),
            template=resolve_template("qwen", tokenizer),
            model_id="tiny@v1",
            audit=AuditWriter(recorder),
            pii_guard=guard,
        )
        running[name] = {"live": serve_live(app), "audit": recorder, "spy": spy, "tokenizer": tokenizer}
    yield running
    for server in running.values():
        server["live"].stop()
    engine.stop()


def _post(server: dict[str, Any], path: str, body: dict[str, Any]) -> Any:
    import httpx

    from tests.serving.helpers import TOKEN

    return httpx.post(
        server["live"].url + path, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    )


def _get(server: dict[str, Any], path: str) -> Any:
    import httpx

    from tests.serving.helpers import TOKEN

    return httpx.get(server["live"].url + path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)


def _events(response: Any) -> list[dict[str, Any]]:
    lines = [
        line.partition(":")[2].strip() for line in response.text.splitlines() if line.startswith("data:")
    ]
    return [json.loads(line) for line in lines if line != "[DONE]"]


TGI = {"inputs": QUESTION, "parameters": {"max_new_tokens": 48, "details": True}}
OPENAI = {
    "messages": [{"role": "user", "content": QUESTION}],
    "max_tokens": 48,
    "temperature": 0,
    "stream": True,
}


def _no_value(raw: str) -> None:
    assert ID not in raw and MOBILE not in raw and ID[:6] not in raw and MOBILE[3:9] not in raw


@pytest.mark.slow
def test_served_stream_masks_the_trained_id_number(servers) -> None:
    off = _post(servers["off"], "/generate", TGI).json()["generated_text"]
    assert off.startswith(ANSWER), off  # the model says the value: without the guard the test would fail

    mask = servers["mask"]
    stream = _post(mask, "/generate_stream", TGI)
    _no_value(stream.text)
    events = _events(stream)
    text = "".join(event["token"]["text"] for event in events)
    assert text.startswith("客户身份证号<身份证号>，手机<手机号>。")
    assert events[-1]["generated_text"] == text and events[-1]["details"]["finish_reason"] == "eos_token"
    assert len(events) == events[-1]["details"]["generated_tokens"]  # one event per generated token
    ids = [event["token"]["id"] for event in events]
    assert ids.count(WITHHELD_TOKEN_ID) == len(ID) + len(MOBILE)  # the digits' ids are withheld too
    decoded = servers["mask"]["tokenizer"].decode([i for i in ids if i != WITHHELD_TOKEN_ID])
    assert not re.search(r"\d", decoded)

    chat = _post(mask, "/v1/chat/completions", OPENAI)
    _no_value(chat.text)
    deltas = "".join(e["choices"][0]["delta"].get("content") or "" for e in _events(chat) if e["choices"])
    assert deltas.startswith("客户身份证号<身份证号>，手机<手机号>。")

    blocking = _post(mask, "/generate", TGI)
    _no_value(blocking.text)
    assert blocking.json()["generated_text"] == text

    metrics = _get(mask, "/metrics").text
    assert 'stockade_pii_detected_total{direction="output",type="id_card"} 3.0' in metrics
    assert 'stockade_pii_detected_total{direction="output",type="mobile"} 3.0' in metrics
    records = mask["audit"].requests(3)
    assert all(r["pii_output"] == {"id_card": 1, "mobile": 1} and r["pii_filter"] == "mask" for r in records)
    _no_value(json.dumps(records, ensure_ascii=False))
    info = _get(mask, "/info").json()
    assert info["pii_filter"] == "mask" and info["pii_filter_prompts"] == "off"


@pytest.mark.slow
def test_block_mode_ends_the_response_with_an_error_and_never_the_value(servers) -> None:
    block = servers["block"]
    stream = _post(block, "/generate_stream", TGI)
    _no_value(stream.text)
    last = _events(stream)[-1]
    assert last["error_type"] == "personal_data" and "id_card" in last["error"]

    chat = _post(block, "/v1/chat/completions", OPENAI)
    _no_value(chat.text)
    events = _events(chat)
    assert events[-2]["choices"][0]["finish_reason"] == "content_filter"
    error = events[-1]["error"]
    assert error["code"] == "content_filter" and "--pii-filter block" in error["message"]

    refused = _post(block, "/generate", TGI)
    assert refused.status_code == 451 and refused.json()["error_type"] == "personal_data"
    _no_value(refused.text)
    refused = _post(block, "/v1/chat/completions", {**OPENAI, "stream": False})
    assert refused.status_code == 451 and refused.json()["error"]["code"] == "content_filter"
    records = block["audit"].requests(4)
    assert [r["status"] for r in records] == [451, 451, 451, 451]
    assert all(r["pii_output"]["id_card"] == 1 for r in records)
    _no_value(json.dumps(records, ensure_ascii=False))


@pytest.mark.slow
def test_prompts_are_masked_before_generation(servers) -> None:
    prompts = servers["prompts"]
    answer = _post(
        prompts, "/generate", {"inputs": f"{QUESTION}，我的手机{MOBILE}", "parameters": {"max_new_tokens": 4}}
    )
    assert answer.status_code == 200
    given = prompts["tokenizer"].decode(prompts["spy"].prompts[-1])
    assert "我的手机<手机号>" in given and MOBILE not in given
    metrics = _get(prompts, "/metrics").text
    assert 'stockade_pii_detected_total{direction="prompt",type="mobile"} 1.0' in metrics
    (record,) = prompts["audit"].requests(1)
    assert record["pii_prompt"] == {"mobile": 1} and record["pii_filter_prompts"] == "mask"


@contextmanager
def stockade_serve(workspace: Path, trained: tuple[Path, Path], *flags: str) -> Iterator[str]:
    """``stockade serve`` as a user runs it (a subprocess on a free loopback port); yields its URL."""
    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model, adapter = trained
    command = [sys.executable, "-m", "stockade", "-w", str(workspace), "serve", "--model_name_or_path"]
    command += [str(model), "--adapter", str(adapter), "--template", "qwen", "--dev", "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if k != "STOCKADE_HOME"}
    process = subprocess.Popen(
        [*command, *flags], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        yield url
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_the_flag_wins_over_the_workspace_setting_whose_default_is_mask() -> None:
    import yaml

    from stockade.api.launch import pii_guard
    from stockade.core.settings import Settings

    assert Settings().serve_pii_filter == "mask"
    assert pii_guard(Settings(), None).describe() == {"pii_filter": "mask", "pii_filter_prompts": "off"}
    assert pii_guard(Settings(serve_pii_filter="block"), None).output == "block"
    assert Settings.model_validate(yaml.safe_load("serve_pii_filter: off")).serve_pii_filter == "off"
    assert pii_guard(Settings(serve_pii_filter="block"), "off", "mask").describe() == {
        "pii_filter": "off",
        "pii_filter_prompts": "mask",
    }


@pytest.mark.slow
def test_stockade_serve_pii_filter_flags_take_effect(workspace_dir: Path, trained) -> None:
    import httpx

    from stockade.security.service import issue_credential
    from stockade.workspace.service import open_workspace
    from tests.conftest import run_cli

    settings = workspace_dir / "stockade.yaml"  # the flag must win over the workspace's setting
    settings.write_text(settings.read_text(encoding="utf-8") + "\nserve_pii_filter: off\n", encoding="utf-8")
    with open_workspace(workspace_dir) as context:
        token = issue_credential(context, kind="api_key", subject=context.actor.name, roles=["admin"]).token
    headers = {"Authorization": f"Bearer {token}"}
    flags = ("--pii-filter", "mask", "--pii-filter-prompts", "block")
    with stockade_serve(workspace_dir, trained, *flags) as url:
        body = {"inputs": QUESTION, "parameters": {"max_new_tokens": 48}}
        answer = httpx.post(f"{url}/generate", json=body, headers=headers, timeout=60).json()[
            "generated_text"
        ]
        assert answer.startswith("客户身份证号<身份证号>，手机<手机号>。"), answer
        asked = {"inputs": f"我的身份证号是{ID}", "parameters": {"max_new_tokens": 4}}
        refused = httpx.post(f"{url}/generate", json=asked, headers=headers, timeout=60)
        assert refused.status_code == 451 and "--pii-filter-prompts block" in refused.json()["error"]
        assert httpx.get(f"{url}/info", headers=headers).json()["pii_filter"] == "mask"
    audit = run_cli("-w", str(workspace_dir), "audit", "tail", "-n", "50", "--json")
    records = [json.loads(line) for line in audit.stdout.splitlines() if line.strip()]
    (start,) = [r["details"] for r in records if r["action"] == "serve.start"]
    assert (start["pii_filter"], start["pii_filter_prompts"]) == ("mask", "block")
    served = [r["details"] for r in records if r["action"] == "serve.request"]
    assert [(r["status"], r["pii_output"], r["pii_prompt"]) for r in served] == [
        (200, {"id_card": 1, "mobile": 1}, {}),
        (451, {}, {"id_card": 1}),
    ]
    _no_value(audit.stdout)
