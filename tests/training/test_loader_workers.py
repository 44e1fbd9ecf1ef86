"""dataloader_num_workers: the step's micro-batches are collated by worker threads, with the same result."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from stockade.core.specs.train import TrainSpec  # noqa: E402
from stockade.data.records import Conversation  # noqa: E402
from stockade.data.templates import resolve_template  # noqa: E402
from stockade.data.tokenization import encode_conversation  # noqa: E402
from stockade.models.tiny import build_tiny_model  # noqa: E402
from stockade.training import loop_parts  # noqa: E402
from stockade.training.loop import TrainInputs, run_training  # noqa: E402

torch.set_num_threads(2)


@pytest.mark.slow
def test_dataloader_num_workers_collates_in_worker_threads(tmp_path: Path, monkeypatch) -> None:
    from transformers import AutoTokenizer

    model = tmp_path / "qwen2"
    build_tiny_model("qwen2", model, seed=0)
    tokenizer = AutoTokenizer.from_pretrained(str(model), local_files_only=True)
    template = resolve_template("qwen", tokenizer)
    examples = [
        encode_conversation(
            Conversation.model_validate(
                {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
            ),
            tokenizer,
            template,
            cutoff_len=64,
        )
        for q, a in [("什么是LPR？", "贷款利率。"), ("什么是KYC？", "了解你的客户。")] * 2
    ]
    threads: list[str] = []
    real = loop_parts.collate_packed

    def recording(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(loop_parts, "collate_packed", recording)
    losses = {}
    for workers in (0, 2):
        threads.clear()
        spec = TrainSpec.model_validate(
            {
                "precision": "fp32",
                "max_steps": 2,
                "per_device_train_batch_size": 1,
                "gradient_accumulation_steps": 2,
                "plot_loss": False,
                "dataloader_num_workers": workers,
            }
        )
        run = tmp_path / f"run-{workers}"
        losses[workers] = run_training(TrainInputs(model, spec, examples, [], run, tokenizer.pad_token_id))
        collators = {name.startswith("stockade-collate") for name in threads}
        assert collators == ({True} if workers else {False}), threads
    assert losses[0].final_loss == pytest.approx(losses[2].final_loss, rel=1e-6)
