"""The training benchmark: chunked cross-entropy is exact, and the tiny CPU run measures both paths."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from stockade.bench import train as bench


def test_chunked_cross_entropy_matches_full_logits() -> None:
    import torch

    torch.manual_seed(0)
    hidden = torch.randn(2, 37, 16, requires_grad=True)
    weight = torch.randn(50, 16)
    labels = torch.randint(0, 50, (2, 37))
    labels[0, :5] = bench.IGNORE_INDEX
    labels[1, 30:] = bench.IGNORE_INDEX

    chunked = bench.chunked_cross_entropy(hidden, weight, labels, chunk=8)
    (grad_chunked,) = torch.autograd.grad(chunked, hidden)
    logits = (hidden @ weight.T)[:, :-1].reshape(-1, 50)
    full = torch.nn.functional.cross_entropy(logits, labels[:, 1:].reshape(-1), ignore_index=-100)
    (grad_full,) = torch.autograd.grad(full, hidden)
    assert torch.allclose(chunked, full, atol=1e-5)
    assert torch.allclose(grad_chunked, grad_full, atol=1e-6)


def test_length_mix_is_seeded_and_realistic() -> None:
    examples = bench.make_examples(400, 1000, seed=3)
    assert [e.input_ids for e in examples[:5]] == [e.input_ids for e in bench.make_examples(5, 1000, seed=3)]
    lengths = sorted(len(e.input_ids) for e in examples)
    assert 200 <= lengths[len(lengths) // 2] <= 340
    assert max(lengths) <= 1024
    assert all(e.labels[0] == bench.IGNORE_INDEX for e in examples)


def test_bench_imports_only_the_gpu_machine_stack() -> None:
    """The GPU machine has torch/transformers/peft/accelerate only: no pydantic, yaml, typer..."""
    code = (
        "import sys\n"
        "for name in ('pydantic', 'yaml', 'typer', 'rich', 'sqlalchemy', 'click'):\n"
        "    sys.modules[name] = None\n"
        "from stockade.bench import train\n"
        "packing = train.import_packing()\n"
        "assert packing.pack_examples and packing.collate_packed\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


@pytest.mark.slow
def test_tiny_cpu_run_measures_baseline_and_stockade(tmp_path, capsys) -> None:
    out = tmp_path / "bench.json"
    result = bench.main(
        ["--shape", "tiny", "--steps", "2", "--device", "cpu", "--threads", "2", "--json-out", str(out)]
    )
    printed = capsys.readouterr().out
    assert "stockade/baseline" in printed.strip().splitlines()[-1]
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    for name in ("baseline", "stockade"):
        phase = result[name]
        assert phase["steps"] >= 1
        assert phase["tokens_per_s"] > 0
        assert phase["peak_memory_bytes"] > 0
        assert phase["loss_finite"] and math.isfinite(phase["loss"])
    # both paths train on the same examples: same real tokens, far less padding when packed
    assert result["baseline"]["real_tokens"] == result["stockade"]["real_tokens"]
    assert result["stockade"]["padding_fraction"] < result["baseline"]["padding_fraction"]
    assert result["ratio"]["tokens_per_s"] > 0
    assert result["ratio"]["peak_memory"] > 0
    assert result["stockade"]["settings"]["gradient_checkpointing"] is False
    assert result["mfu_convention"].startswith("FLOPs = 4 * N")


def test_stockade_loss_equals_the_models_own_loss_on_a_packed_batch() -> None:
    import torch

    packing = bench.import_packing()
    model = bench.build_model("tiny", torch.device("cpu"), torch.float32)
    mode = packing.configure_model_for_packing(model)
    examples = bench.make_examples(6, bench.SHAPES["tiny"]["vocab_size"], seed=1, cap=512)
    batches = list(
        bench.packed_batches(
            examples, packing, cutoff_len=512, rows=8, mode=mode, dtype=torch.float32, pad_id=0
        )
    )
    batch, real = batches[0]
    assert real == sum(len(e.input_ids) for e in examples)
    with torch.no_grad():
        own = model(**batch).loss
        rest = {k: v for k, v in batch.items() if k != "labels"}
        hidden = model.model(**rest).last_hidden_state
        chunked = bench.chunked_cross_entropy(hidden, model.lm_head.weight, batch["labels"], chunk=100)
    assert torch.allclose(own, chunked, atol=1e-4)
