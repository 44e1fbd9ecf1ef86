"""Quantized serving (issue 18): ``--load_in_4bit`` is nf4 computing in the training run's dtype (as
QLoRA training quantises), ``--load_in_8bit`` is LLM.int8; both on CPU with bitsandbytes >= 0.45."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from stockade.core.errors import StockadeError
from stockade.core.specs import ServeSpec

bnb = pytest.importorskip("bitsandbytes")
torch = pytest.importorskip("torch")


def _layers(model, kind):
    return [m for m in model.modules() if isinstance(m, kind)]


@pytest.mark.parametrize(
    ("precision", "dtype"), [(None, "float32"), ("bf16", "bfloat16"), ("fp32", "float32")]
)
def test_4bit_serving_loads_nf4_with_the_runs_compute_dtype(
    tiny_model_dir: Path, precision: str | None, dtype: str
) -> None:
    from stockade.serving.hf_loader import load_model

    model, _ = load_model(tiny_model_dir, adapter=None, device="cpu", load_in_4bit=True, precision=precision)
    layers = _layers(model, bnb.nn.Linear4bit)
    assert layers and all(layer.weight.quant_type == "nf4" for layer in layers)  # not bitsandbytes' fp4
    assert {str(layer.compute_dtype) for layer in layers} == {f"torch.{dtype}"}
    assert all(layer.weight.quant_state.nested for layer in layers)  # double quantisation, as training


def test_8bit_serving_loads_int8_layers(tiny_model_dir: Path) -> None:
    from stockade.serving.hf_loader import load_model

    model, _ = load_model(tiny_model_dir, adapter=None, device="cpu", load_in_4bit=False, load_in_8bit=True)
    layers = _layers(model, bnb.nn.Linear8bitLt)
    assert layers and all(layer.weight.dtype == torch.int8 for layer in layers)
    assert not _layers(model, bnb.nn.Linear4bit)


@pytest.mark.parametrize("flag", ["load_in_4bit", "load_in_8bit"])
def test_the_engine_serves_quantized_weights_as_generate_does(tiny_model_dir: Path, flag: str) -> None:
    from stockade.serving.params import GenerationParams
    from stockade.serving.service import build_engine
    from stockade.serving.target import ServeTarget

    target = ServeTarget(str(tiny_model_dir), tiny_model_dir, "qwen", None, dev=True)
    engine = build_engine(target, ServeSpec(max_model_len=128, **{flag: True}))
    assert _layers(engine.runner.model, bnb.nn.Linear4bit if flag == "load_in_4bit" else bnb.nn.Linear8bitLt)
    prompt = engine.tokenizer("债券违约", add_special_tokens=False)["input_ids"]
    engine.start()
    try:

        async def run() -> list[int]:
            handle = engine.submit(prompt, GenerationParams(max_new_tokens=8))
            tokens = []
            while True:
                event = await handle.events.get()
                assert event.error is None, event.error
                tokens.append(event.token_id)
                if event.finish:
                    return tokens

        served = asyncio.run(run())
    finally:
        engine.stop()
    with torch.inference_mode():
        ids = torch.tensor([prompt])
        expected = engine.runner.model.generate(
            ids, attention_mask=torch.ones_like(ids), max_new_tokens=8, do_sample=False
        )[0, len(prompt) :].tolist()
    assert served == expected[: len(served)] and len(served) >= 1


def test_an_adapter_is_not_merged_into_quantized_weights(tiny_model_dir: Path, tmp_path: Path) -> None:
    from stockade.serving.hf_loader import load_model

    with pytest.raises(StockadeError, match="cannot be merged into quantized weights") as caught:
        load_model(tiny_model_dir, adapter=tmp_path, device="cpu", load_in_4bit=True)
    assert "--adapters" in (caught.value.fix or "")


def test_vllm_refuses_the_bitsandbytes_flags(tiny_model_dir: Path) -> None:
    from stockade.serving.service import build_engine
    from stockade.serving.target import ServeTarget

    target = ServeTarget(str(tiny_model_dir), tiny_model_dir, "qwen", None, dev=True)
    with pytest.raises(StockadeError, match="for the hf backend"):
        build_engine(target, ServeSpec(infer_backend="vllm", load_in_8bit=True))


def test_the_served_versions_run_gives_the_compute_dtype(workspace_dir: Path, tiny_model_dir: Path) -> None:
    """A version exported from a run: serving reads that run's precision (the 4-bit compute dtype)."""
    from sqlalchemy import update

    from stockade.models.store.service import import_model
    from stockade.serving.target import resolve_target
    from stockade.storage.model_tables import ModelVersion
    from stockade.storage.tables import TrainingRun
    from stockade.workspace.service import open_workspace
    from tests.conftest import add_running_run

    add_running_run(workspace_dir, "run-1")
    with open_workspace(workspace_dir) as context:
        import_model(context, tiny_model_dir, "tiny", copy=False)
        with Session(context.engine) as session, session.begin():
            session.execute(update(TrainingRun).values(spec=json.dumps({"precision": "bf16"})))
            session.execute(
                update(ModelVersion).values(stage="approved", lineage=json.dumps({"run": "run-1"}))
            )
        assert resolve_target(context, ServeSpec(model="tiny@v1")).precision == "bf16"
        with Session(context.engine) as session, session.begin():
            session.execute(update(TrainingRun).values(spec=json.dumps({"precision": "auto"})))
        assert resolve_target(context, ServeSpec(model="tiny@v1")).precision is None
