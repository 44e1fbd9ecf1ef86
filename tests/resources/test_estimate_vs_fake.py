"""The estimate against the measured peak of the product's own training step on fake tensors (±5 %).

Each configuration writes a config.json (llama or qwen2 style), estimates from it alone
(:func:`stockade.resources.plan.setup_for_spec` reads the spec the way the loop's recipe does), and
measures two steps of the real loop's setup, batch and loss under FakeTensorMode + MemTracker
(:mod:`tests.resources.fake_step`). bf16 rows stand for a GPU run (autocast, foreach AdamW), fp32 rows
are the CPU run as it is. ``python -m tests.resources.test_estimate_vs_fake`` prints the table of
docs/estimate.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from stockade.core.specs import TrainSpec
from stockade.resources.estimate import estimate_training
from stockade.resources.plan import setup_for_spec
from stockade.resources.shape import read_shape
from stockade.training.recipe import DeviceFacts
from tests.resources.fake_step import measure_training_step

TOLERANCE = 0.05

SHAPES = {
    # llama: grouped-query attention (8 heads, 4 key/value heads)
    "llama-a": ("llama", {"hidden_size": 256, "intermediate_size": 704, "num_hidden_layers": 4,
                          "num_attention_heads": 8, "num_key_value_heads": 4, "vocab_size": 4096}),
    # qwen2: q/k/v biases, tied embeddings, 3 query heads per key/value head
    "qwen-b": ("qwen2", {"hidden_size": 384, "intermediate_size": 1024, "num_hidden_layers": 3,
                         "num_attention_heads": 6, "num_key_value_heads": 2, "vocab_size": 8192,
                         "tie_word_embeddings": True}),
    # qwen2, untied, one key/value head (multi-query)
    "qwen-c": ("qwen2", {"hidden_size": 320, "intermediate_size": 896, "num_hidden_layers": 3,
                         "num_attention_heads": 5, "num_key_value_heads": 1, "vocab_size": 6000,
                         "tie_word_embeddings": False}),
    # llama, a 32k vocabulary (several loss pieces), full multi-head attention
    "llama-d": ("llama", {"hidden_size": 512, "intermediate_size": 1376, "num_hidden_layers": 2,
                          "num_attention_heads": 8, "num_key_value_heads": 8, "vocab_size": 32000}),
}  # fmt: skip


@dataclass(frozen=True)
class Case:
    shape: str
    method: str
    precision: str  # bf16: as on a GPU; fp32: the CPU run
    recompute: bool
    batch: int
    cutoff: int
    cross_entropy: str = "chunked"
    rank: int = 8
    targets: str = "all"

    @property
    def id(self) -> str:
        extra = "" if self.targets == "all" and self.rank == 8 else f"-r{self.rank}-{self.targets}"
        return (
            f"{self.shape}-{self.method}-{self.precision}-{'rc' if self.recompute else 'norc'}"
            f"-b{self.batch}x{self.cutoff}-{self.cross_entropy}{extra}"
        )


CASES = [
    Case("llama-a", "lora", "bf16", False, 2, 256),
    Case("llama-a", "lora", "bf16", True, 4, 256),
    Case("llama-a", "full", "bf16", False, 2, 256),
    Case("llama-a", "full", "bf16", True, 1, 512),
    Case("llama-a", "freeze", "bf16", False, 2, 256),
    Case("llama-a", "freeze", "bf16", True, 4, 128),
    Case("llama-a", "lora", "fp32", False, 2, 256),
    Case("llama-a", "full", "fp32", False, 1, 256),
    Case("llama-a", "lora", "bf16", False, 2, 256, "full"),
    Case("llama-a", "lora", "fp32", False, 2, 192, rank=4, targets="q_proj,v_proj"),
    Case("qwen-b", "lora", "bf16", False, 4, 512),
    Case("qwen-b", "full", "bf16", True, 1, 1024),
    Case("qwen-c", "lora", "bf16", False, 2, 384, rank=16, targets="q_proj,v_proj"),
    Case("qwen-c", "full", "bf16", False, 2, 256, "full"),
    Case("llama-d", "lora", "bf16", True, 1, 2048),
]


def model_folder(root: Path, name: str) -> Path:
    from transformers import AutoConfig

    folder = root / name
    if not (folder / "config.json").is_file():
        model_type, values = SHAPES[name]
        AutoConfig.for_model(model_type, **values).save_pretrained(folder)
    return folder


def spec_of(case: Case) -> TrainSpec:
    return TrainSpec(
        finetuning_type=case.method,
        precision=case.precision,
        gradient_checkpointing=case.recompute,
        per_device_train_batch_size=case.batch,
        cutoff_len=case.cutoff,
        cross_entropy=case.cross_entropy,
        lora_rank=case.rank,
        lora_target=case.targets,
    )


def compare(case: Case, root: Path) -> tuple[int, int]:
    """(estimated, measured) peak bytes of ``case``."""
    folder = model_folder(root, case.shape)
    spec = spec_of(case)
    gpu = case.precision != "fp32"
    device = DeviceFacts("cuda", "fake", None, bf16=True) if gpu else DeviceFacts("cpu", "cpu", None)
    setup = setup_for_spec(spec, folder, device)
    estimate = estimate_training(read_shape(folder), setup)
    measured = measure_training_step(folder, spec, [case.cutoff] * case.batch)
    return estimate.peak_allocated, measured.peak_bytes


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("configs")


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_estimate_within_5_percent_of_the_fake_tensor_peak(case: Case, models: Path) -> None:
    estimated, measured = compare(case, models)
    error = (estimated - measured) / measured
    assert abs(error) <= TOLERANCE, (
        f"{case.id}: estimated {estimated / 2**20:.1f} MiB, measured {measured / 2**20:.1f} MiB "
        f"({error:+.1%})"
    )


def main() -> None:
    """Print the validation table of docs/estimate.md."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        print("| configuration | estimate (MiB) | fake-tensor peak (MiB) | error |")
        print("|---|---:|---:|---:|")
        for case in CASES:
            estimated, measured = compare(case, Path(folder))
            error = (estimated - measured) / measured
            print(
                f"| {case.id} | {estimated / 2**20:.1f} | {measured / 2**20:.1f} | {error:+.1%} |", flush=True
            )


if __name__ == "__main__":
    main()
