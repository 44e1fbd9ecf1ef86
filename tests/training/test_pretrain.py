"""stage pt on a tiny CPU model: documents become tokens with eos between them, every token is learned,
rows are packed without attention across documents, and the loss falls."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from stockade.core.errors import ConfigError  # noqa: E402
from stockade.core.specs.train import TrainSpec  # noqa: E402
from stockade.data.packing import collate_packed, pack_examples  # noqa: E402
from stockade.data.tokenization import IGNORE_INDEX, encode_text  # noqa: E402
from stockade.models.tiny import build_tiny_model  # noqa: E402
from stockade.training.loop import TrainInputs, run_training  # noqa: E402
from stockade.training.metrics import read_metrics  # noqa: E402
from stockade.training.recipe import DeviceFacts, decide  # noqa: E402

torch.set_num_threads(2)

DOCUMENTS = [
    "商业银行应当建立健全内部控制制度，定期开展风险评估。",
    "个人贷款资金应当按照合同约定用途使用，不得挪用。",
    "反洗钱工作要求银行识别客户身份并保存交易记录。",
    "存款保险制度保障存款人的合法权益。",
    "理财产品销售应当充分揭示风险，不得承诺保本保收益。",
    "信用卡分期业务应当明示费用和年化利率。",
]
CPU = DeviceFacts("cpu", "cpu", None)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    from transformers import AutoTokenizer

    path = tmp_path_factory.mktemp("tiny") / "qwen2"
    build_tiny_model("qwen2", path, seed=0)
    return path, AutoTokenizer.from_pretrained(str(path), local_files_only=True)


def test_a_document_is_learned_whole_and_ends_with_eos(tiny) -> None:
    _, tokenizer = tiny
    (example,) = encode_text(DOCUMENTS[0], tokenizer, cutoff_len=512)
    ids = tokenizer(DOCUMENTS[0], add_special_tokens=False)["input_ids"]
    assert example.input_ids[-1] == tokenizer.eos_token_id
    assert example.input_ids[-1 - len(ids) : -1] == ids
    assert example.labels[0] == IGNORE_INDEX and example.labels[1:] == example.input_ids[1:]
    assert example.trainable_tokens == len(example.input_ids) - 1 and not example.truncated


def test_a_long_document_is_cut_into_pieces_of_cutoff_len(tiny) -> None:
    _, tokenizer = tiny
    text = "".join(DOCUMENTS)
    whole = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    pieces = encode_text(text, tokenizer, cutoff_len=16)
    assert all(len(p) <= 16 for p in pieces) and all(p.truncated for p in pieces)
    assert [t for p in pieces for t in p.input_ids] == whole[: sum(len(p) for p in pieces)]
    assert len(whole) - sum(len(p) for p in pieces) <= 1  # only a last piece of one token is dropped


def test_stage_pt_packs_by_default_even_on_cpu_and_refuses_preference_keys() -> None:
    recipe = decide(TrainSpec(stage="pt"), {"model_type": "qwen2"}, CPU)
    assert recipe.packing and "stage pt" in recipe.facts()["recipe.packing"]
    assert not decide(TrainSpec(stage="pt", packing=False), {"model_type": "qwen2"}, CPU).packing
    with pytest.raises(ValueError, match="pref_beta has no effect with stage: pt"):
        TrainSpec(stage="pt", pref_beta=0.2)
    with pytest.raises(ConfigError, match="packing: true does not apply to stage dpo"):
        decide(TrainSpec(stage="dpo", packing=True), {"model_type": "qwen2"}, CPU)


def test_no_attention_crosses_documents_in_a_packed_row(tiny) -> None:
    """The logits of each document inside a packed row equal those of the document alone."""
    from transformers import AutoModelForCausalLM

    path, tokenizer = tiny
    model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True).eval()
    examples = [encode_text(d, tokenizer, cutoff_len=256)[0] for d in DOCUMENTS[:3]]
    (row,) = pack_examples(examples, 256)
    batch = collate_packed([row], pad_token_id=tokenizer.pad_token_id, mode="mask")
    with torch.no_grad():
        packed = model(**{k: v for k, v in batch.items() if k != "labels"}).logits[0]
        at = 0
        for index in row.indices:
            ids = examples[index].input_ids
            alone = model(input_ids=torch.tensor([ids])).logits[0]
            torch.testing.assert_close(packed[at : at + len(ids)], alone, atol=1e-4, rtol=1e-4)
            at += len(ids)
        # and without the block mask the later documents would see the earlier ones
        causal = model(input_ids=batch["input_ids"]).logits[0]
        second = row.seq_lens[0]
        assert not torch.allclose(causal[second : second + 3], packed[second : second + 3], atol=1e-4)


def test_pt_training_lowers_the_loss(tiny, tmp_path: Path) -> None:
    path, tokenizer = tiny
    examples = [e for d in DOCUMENTS for e in encode_text(d, tokenizer, cutoff_len=64)]
    spec = TrainSpec.model_validate(
        {
            "stage": "pt",
            "learning_rate": 5e-3,
            "per_device_train_batch_size": 2,
            "max_steps": 12,
            "lr_scheduler_type": "constant",
            "precision": "fp32",
            "cutoff_len": 64,
            "logging_steps": 3,
            "save_steps": 1000,
            "plot_loss": False,
            "seed": 0,
        }
    )
    inputs = TrainInputs(
        model_dir=path,
        spec=spec,
        train=examples,
        eval=[],
        run_dir=tmp_path / "run",
        pad_token_id=tokenizer.pad_token_id,
    )
    result = run_training(inputs)
    losses = [r["loss"] for r in read_metrics(result.metrics_path)]
    assert len(losses) == 4 and losses[-1] < losses[0] * 0.8, losses
