"""Many adapters on one base (issue 18): ``serve --model BASE@vN --adapters risk@v1,kyc@v1``.

Two LoRA adapters trained on one tiny base to answer the same question differently are served
unmerged; concurrent requests choosing each (OpenAI ``model``, TGI ``parameters.adapter_id``) or none
(the base) get their own answers from shared forward passes. Governance: each adapter must be an
adapter version trained on the served base (by manifest hash); tokens scoped to one model call only it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

pytest.importorskip("peft")
pytestmark = pytest.mark.slow  # trains two adapters (a few seconds each)

QUESTION = "今天写哪种报告"
ANSWERS = {"risk": "市场风险报告：利率上行", "kyc": "客户尽职调查：身份核验完成"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    import torch

    from stockade.models.tiny import build_tiny_model
    from tests.serving.helpers import train_adapter

    torch.set_num_threads(2)
    root = tmp_path_factory.mktemp("adapters")
    base = build_tiny_model("qwen2", root / "qwen2", seed=0).path
    adapters = {
        name: train_adapter(base, QUESTION, answer, root / f"run-{name}", cutoff_len=64)
        for name, answer in ANSWERS.items()
    }
    return base, adapters


class Audit:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def record(self, action: str, target: str | None, **details: Any) -> None:
        self.records.append({"action": action, "target": target, **details})


@pytest.fixture(scope="module")
def served(trained) -> Iterator[dict[str, Any]]:
    """The base with both adapters loaded unmerged, one engine, a live server (and one whose token is
    scoped to kyc@v1)."""
    from stockade.api.app import create_app
    from stockade.data.templates import resolve_template
    from stockade.serving.hf_loader import load_model
    from tests.serving.helpers import FixedTokenAuthenticator, make_engine, serve_live

    base, adapters = trained
    model, tokenizer = load_model(
        base,
        adapter=None,
        device="cpu",
        load_in_4bit=False,
        adapters=[("risk@v1", adapters["risk"]), ("kyc@v1", adapters["kyc"])],
    )
    engine = make_engine(model, tokenizer, model_id="tiny@v1")
    audit = Audit()
    apps = {}
    for name, models in {"open": None, "kyc-only": frozenset({"kyc@v1"})}.items():
        app = create_app(
            engine,
            authenticator=FixedTokenAuthenticator(models=models),
            template=resolve_template("qwen", tokenizer),
            model_id="tiny@v1",
            audit=audit,
        )
        apps[name] = serve_live(app)
    yield {"engine": engine, "audit": audit, **apps}
    for server in apps.values():
        server.stop()
    engine.stop()


def _auth() -> dict[str, str]:
    from tests.serving.helpers import TOKEN

    return {"Authorization": f"Bearer {TOKEN}"}


def _chat(url: str, model: str | None) -> httpx.Response:
    body: dict[str, Any] = {
        "messages": [{"role": "user", "content": QUESTION}],
        "max_tokens": 24,
        "temperature": 0,
    }
    if model is not None:
        body["model"] = model
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=_auth(), timeout=120)


def _generate(url: str, adapter: str | None) -> httpx.Response:
    parameters: dict[str, Any] = {"max_new_tokens": 24}
    if adapter is not None:
        parameters["adapter_id"] = adapter
    body = {"inputs": QUESTION, "parameters": parameters}
    return httpx.post(f"{url}/generate", json=body, headers=_auth(), timeout=120)


def test_each_adapter_answers_its_own_in_one_batch(served) -> None:
    engine, url = served["engine"], served["open"].url
    engine.adapter_passes.clear()
    calls = [
        lambda: _chat(url, "risk@v1").json()["choices"][0]["message"]["content"],
        lambda: _chat(url, "kyc@v1").json()["choices"][0]["message"]["content"],
        lambda: _generate(url, "risk@v1").json()["generated_text"],
        lambda: _generate(url, "kyc@v1").json()["generated_text"],
        lambda: _chat(url, None).json()["choices"][0]["message"]["content"],
    ]
    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        risk, kyc, risk_tgi, kyc_tgi, base = [f.result() for f in [pool.submit(c) for c in calls]]
    assert risk.startswith(ANSWERS["risk"]) and risk_tgi.startswith(ANSWERS["risk"])
    assert kyc.startswith(ANSWERS["kyc"]) and kyc_tgi.startswith(ANSWERS["kyc"])
    assert ANSWERS["risk"] not in base and ANSWERS["kyc"] not in base  # the base is not merged
    # rows of different adapters (and the base) shared forward passes
    mixed = [choice for choice in engine.adapter_passes if {"risk@v1", "kyc@v1"} <= choice]
    assert mixed, engine.adapter_passes


def test_models_lists_base_and_adapters_and_responses_name_the_choice(served) -> None:
    from openai import OpenAI

    from tests.serving.helpers import TOKEN

    client = OpenAI(base_url=f"{served['open'].url}/v1", api_key=TOKEN, max_retries=0)
    assert [m.id for m in client.models.list()] == ["tiny@v1", "risk@v1", "kyc@v1"]
    reply = client.chat.completions.create(
        model="kyc@v1", messages=[{"role": "user", "content": QUESTION}], max_tokens=24, temperature=0
    )
    assert reply.model == "kyc@v1" and reply.choices[0].message.content.startswith(ANSWERS["kyc"])
    info = httpx.get(f"{served['open'].url}/info", headers=_auth()).json()
    assert info["adapters"] == ["risk@v1", "kyc@v1"] and info["model_id"] == "tiny@v1"


def test_unknown_adapters_are_404_naming_the_field(served) -> None:
    url = served["open"].url
    response = _chat(url, "fraud@v1")
    assert response.status_code == 404 and response.json()["error"]["param"] == "model"
    response = _generate(url, "fraud@v1")
    assert response.status_code == 404 and "parameters.adapter_id" in response.json()["error"]
    response = _generate(url, "../etc/passwd")  # no path fits the field's pattern (NAME@vN)
    assert response.status_code == 422 and "adapter_id" in response.json()["error"]


def test_a_token_scoped_to_one_adapter_calls_only_it(served) -> None:
    url = served["kyc-only"].url
    assert _chat(url, "kyc@v1").json()["choices"][0]["message"]["content"].startswith(ANSWERS["kyc"])
    for response in (_chat(url, "risk@v1"), _chat(url, None), _generate(url, "risk@v1")):
        assert response.status_code == 403, response.text
    models = httpx.get(f"{url}/v1/models", headers=_auth()).json()["data"]
    assert [m["id"] for m in models] == ["kyc@v1"]


def test_audit_records_name_the_adapter(served) -> None:
    audit = served["audit"]
    audit.records.clear()
    assert _generate(served["open"].url, "risk@v1").status_code == 200
    assert _generate(served["open"].url, None).status_code == 200
    limit = time.monotonic() + 10
    while len([r for r in audit.records if r["action"] == "serve.request"]) < 2:
        assert time.monotonic() < limit, audit.records
        time.sleep(0.02)
    first, second = [r for r in audit.records if r["action"] == "serve.request"]
    assert first["adapter"] == "risk@v1" and first["target"] == "tiny@v1"
    assert "adapter" not in second


def test_the_engine_refuses_an_adapter_it_does_not_serve(served) -> None:
    from stockade.serving.errors import InvalidRequest
    from stockade.serving.params import GenerationParams

    async def submit() -> None:
        served["engine"].submit([1, 2, 3], GenerationParams(max_new_tokens=2, adapter="fraud@v1"))

    with pytest.raises(InvalidRequest, match="not served here"):
        asyncio.run(submit())


# --- which versions may be served together -----------------------------------------------------------


@pytest.fixture
def context(workspace_dir: Path):
    from stockade.workspace.service import open_workspace

    with open_workspace(workspace_dir) as context:
        yield context


def _register_adapter(context, name: str, folder: Path, base_manifest: str, kind: str = "adapter") -> str:
    from stockade.models.store.manifest import build_manifest
    from stockade.models.store.versions import NewVersion, commit_version

    view = commit_version(
        context,
        NewVersion(
            name=name,
            kind=kind,
            architecture="Qwen2ForCausalLM",
            template="qwen",
            manifest=build_manifest(folder),
            lineage={"base_manifest_sha256": base_manifest, "base_version": "tiny@v1"},
            tags=[],
        ),
        staged=None,
        in_place=folder,
        action="model.import",
    )
    return f"{view.name}@v{view.version}"


def _approve_all(context) -> None:
    from stockade.storage.model_tables import ModelVersion

    with Session(context.engine) as session:
        session.execute(update(ModelVersion).values(stage="approved"))
        session.commit()


def test_adapters_resolve_only_onto_the_base_they_were_trained_on(context, trained) -> None:
    from stockade.core.errors import StockadeError
    from stockade.core.specs import ServeSpec
    from stockade.models.store.service import import_model
    from stockade.serving.service import build_engine
    from stockade.serving.target import resolve_target
    from stockade.storage.model_tables import ModelVersion

    base, adapters = trained
    import_model(context, base, "tiny", copy=False)
    with Session(context.engine) as session:
        manifest = session.query(ModelVersion).one().manifest_sha256
    risk = _register_adapter(context, "risk", adapters["risk"], manifest)
    kyc = _register_adapter(context, "kyc", adapters["kyc"], manifest)
    other = _register_adapter(context, "stranger", adapters["kyc"], "0" * 64)
    _approve_all(context)

    target = resolve_target(context, ServeSpec(model="tiny@v1", adapters=f"{risk},{kyc}"))
    assert [a.label for a in target.adapters] == ["risk@v1", "kyc@v1"] and not target.dev
    assert all(a.verified for a in target.adapters)  # each adapter's files checked against its manifest
    engine = build_engine(target, ServeSpec(model="tiny@v1", adapters=f"{risk},{kyc}"))
    assert engine.adapters == ("risk@v1", "kyc@v1")

    with pytest.raises(StockadeError, match="trained on another base") as caught:
        resolve_target(context, ServeSpec(model="tiny@v1", adapters=f"{risk},{other}"))
    assert "stranger@v1" in str(caught.value)
    with pytest.raises(StockadeError, match="is a base model, not an adapter"):
        resolve_target(context, ServeSpec(model="tiny@v1", adapters="tiny@v1"))
    with pytest.raises(StockadeError, match="not folders"):
        resolve_target(context, ServeSpec(model="tiny@v1", adapters=str(adapters["risk"]), dev=True))
    with pytest.raises(StockadeError, match="needs a registered base"):
        resolve_target(context, ServeSpec(model=str(base), adapters=risk, dev=True))


def test_adapters_need_approval_outside_dev_mode(context, trained) -> None:
    from stockade.core.errors import StockadeError
    from stockade.core.specs import ServeSpec
    from stockade.models.store.service import import_model
    from stockade.serving.target import resolve_target
    from stockade.storage.model_tables import ModelVersion

    base, adapters = trained
    import_model(context, base, "tiny", copy=False)
    with Session(context.engine) as session:
        session.execute(update(ModelVersion).values(stage="approved"))
        session.commit()
        manifest = session.query(ModelVersion).one().manifest_sha256
    risk = _register_adapter(context, "risk", adapters["risk"], manifest)  # a draft
    with pytest.raises(StockadeError, match="not approved"):
        resolve_target(context, ServeSpec(model="tiny@v1", adapters=risk))
    assert resolve_target(context, ServeSpec(model="tiny@v1", adapters=risk, dev=True)).dev


def test_spec_checks() -> None:
    from pydantic import ValidationError

    from stockade.core.specs import ServeSpec

    assert ServeSpec(adapters="risk@v2, kyc@v1").adapters == ["risk@v2", "kyc@v1"]
    from stockade.cli.spec_options import spec_from_args

    spec, _ = spec_from_args(
        ServeSpec, ["--model", "base@v1", "--adapters", "risk@v2,kyc@v1", "--load_in_8bit"]
    )
    assert spec.adapters == ["risk@v2", "kyc@v1"] and spec.load_in_8bit and not spec.load_in_4bit
    with pytest.raises(ValidationError, match="choose one"):
        ServeSpec(load_in_4bit=True, load_in_8bit=True)
    with pytest.raises(ValidationError, match="list every adapter in adapters"):
        ServeSpec(adapter="run-1", adapters="risk@v2")


def test_adapters_on_4bit_weights_batch_as_they_run_alone(trained) -> None:
    """QLoRA-style serving: nf4 base, adapters unmerged; a mixed batch gives each row what it gets alone."""
    pytest.importorskip("bitsandbytes")
    from stockade.serving.hf_loader import load_model
    from stockade.serving.params import GenerationParams
    from tests.serving.helpers import make_engine

    base, adapters = trained
    model, tokenizer = load_model(
        base,
        adapter=None,
        device="cpu",
        load_in_4bit=True,
        adapters=[("risk@v1", adapters["risk"]), ("kyc@v1", adapters["kyc"])],
    )
    engine = make_engine(model, tokenizer)
    prompt = tokenizer(QUESTION, add_special_tokens=False)["input_ids"]

    async def run(choices: list[str | None]) -> list[list[int]]:
        handles = [engine.submit(prompt, GenerationParams(max_new_tokens=8, adapter=c)) for c in choices]

        async def tokens(handle) -> list[int]:
            out = []
            while True:
                event = await handle.events.get()
                assert event.error is None, event.error
                out.append(event.token_id)
                if event.finish:
                    return out

        return list(await asyncio.gather(*(tokens(h) for h in handles)))

    try:
        choices = ["risk@v1", "kyc@v1", None]
        together = asyncio.run(run(choices))
        alone = [asyncio.run(run([c]))[0] for c in choices]
    finally:
        engine.stop()
    assert together == alone and len({tuple(t) for t in together}) == 3  # each adapter changes the output
    assert any({"risk@v1", "kyc@v1"} <= choice for choice in engine.adapter_passes)
