"""report_to: tensorboard writes event files with the logged losses into the run folder (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from stockade.core.specs.train import TrainSpec  # noqa: E402
from stockade.data.records import Conversation  # noqa: E402
from stockade.data.templates import resolve_template  # noqa: E402
from stockade.data.tokenization import encode_conversation  # noqa: E402
from stockade.models.tiny import build_tiny_model  # noqa: E402
from stockade.training.loop import TrainInputs, run_training  # noqa: E402
from stockade.training.metrics import read_metrics  # noqa: E402
from stockade.training.reporting import TENSORBOARD_DIR  # noqa: E402

torch.set_num_threads(2)


def _train(tmp_path: Path, report_to: str) -> Path:
    from transformers import AutoTokenizer

    model = tmp_path / "qwen2"
    if not model.exists():
        build_tiny_model("qwen2", model, seed=0)
    tokenizer = AutoTokenizer.from_pretrained(str(model), local_files_only=True)
    template = resolve_template("qwen", tokenizer)
    conversation = Conversation.model_validate(
        {
            "messages": [
                {"role": "user", "content": "什么是LPR？"},
                {"role": "assistant", "content": "贷款利率。"},
            ]
        }
    )
    examples = [encode_conversation(conversation, tokenizer, template, cutoff_len=64)] * 2
    spec = TrainSpec.model_validate(
        {
            "precision": "fp32",
            "max_steps": 3,
            "logging_steps": 1,
            "per_device_train_batch_size": 2,
            "plot_loss": False,
            "report_to": report_to,
        }
    )
    run = tmp_path / f"run-{report_to}"
    run_training(TrainInputs(model, spec, examples, [], run, tokenizer.pad_token_id))
    return run


@pytest.mark.slow
def test_tensorboard_event_file_holds_the_logged_losses(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = _train(tmp_path, "tensorboard")
    events = list((run / TENSORBOARD_DIR).glob("events.out.tfevents.*"))
    assert events, "no event file"
    accumulator = EventAccumulator(str(run / TENSORBOARD_DIR))
    accumulator.Reload()
    logged = [(r["step"], r["loss"]) for r in read_metrics(run / "metrics.jsonl")]
    scalars = [(e.step, e.value) for e in accumulator.Scalars("train/loss")]
    assert [s for s, _ in scalars] == [s for s, _ in logged] == [1, 2, 3]
    assert [v for _, v in scalars] == pytest.approx([v for _, v in logged], rel=1e-5)
    assert "train/lr" in accumulator.Tags()["scalars"]

    # the default writes no event files
    assert not (_train(tmp_path, "none") / TENSORBOARD_DIR).exists()


@pytest.mark.parametrize("tracker", ["wandb", "mlflow", "swanlab", ["tensorboard", "wandb"]])
def test_hosted_trackers_are_refused_by_name(tracker: object) -> None:
    with pytest.raises(ValueError, match=r"wandb|mlflow|swanlab") as refused:
        TrainSpec.model_validate({"report_to": tracker})
    assert "tensorboard" in str(refused.value)


@pytest.mark.parametrize(
    ("given", "kept"), [(["tensorboard"], "tensorboard"), ("none", "none"), ([], "none")]
)
def test_report_to_accepts_llamafactory_forms(given: object, kept: str) -> None:
    assert TrainSpec.model_validate({"report_to": given}).report_to == kept


def test_tensorboard_missing_is_refused_before_the_model_loads(monkeypatch) -> None:
    import sys

    from stockade.core.errors import DependencyMissing
    from stockade.training.options import prepare_spec

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard -> ImportError
    with pytest.raises(DependencyMissing, match="pip install 'stockade\\[train\\]'"):
        prepare_spec(None, TrainSpec.model_validate({"report_to": "tensorboard"}))
    assert prepare_spec(None, TrainSpec())[0].report_to == "none"
