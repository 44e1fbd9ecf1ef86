"""The training loop on CPU: a tiny Qwen2 learns 40 finance answers by heart; resume is exact."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from stockade.core.errors import DependencyMissing  # noqa: E402
from stockade.core.specs.train import TrainSpec  # noqa: E402
from stockade.data.records import Conversation  # noqa: E402
from stockade.data.templates import resolve_template  # noqa: E402
from stockade.data.tokenization import IGNORE_INDEX, EncodedExample, encode_conversation  # noqa: E402
from stockade.models.tiny import build_tiny_model  # noqa: E402
from stockade.training.checkpoint import list_checkpoints  # noqa: E402
from stockade.training.loop import TrainInputs, run_training  # noqa: E402
from stockade.training.metrics import read_metrics  # noqa: E402

torch.set_num_threads(2)

QA = [
    ("什么是LPR？", "贷款市场报价利率。"),
    ("LPR多久公布一次？", "每月二十日公布。"),
    ("什么是存款准备金率？", "银行须存放央行的存款比例。"),
    ("什么是MLF？", "中期借贷便利。"),
    ("什么是SLF？", "常备借贷便利。"),
    ("什么是逆回购？", "央行买入债券并约定卖回。"),
    ("什么是同业拆借？", "银行之间的短期借款。"),
    ("什么是SHIBOR？", "上海银行间同业拆放利率。"),
    ("什么是不良贷款率？", "不良贷款占总贷款的比例。"),
    ("什么是拨备覆盖率？", "贷款损失准备除以不良贷款。"),
    ("什么是资本充足率？", "资本与风险加权资产之比。"),
    ("什么是核心一级资本？", "普通股和留存收益等。"),
    ("什么是流动性覆盖率？", "优质流动资产除以净现金流出。"),
    ("什么是净息差？", "利息净收入除以生息资产。"),
    ("什么是理财产品？", "银行发行的投资产品。"),
    ("什么是大额存单？", "起点较高的记账式存款凭证。"),
    ("什么是结构性存款？", "挂钩衍生品的存款。"),
    ("什么是信用证？", "银行开立的付款承诺。"),
    ("什么是保函？", "银行出具的担保文件。"),
    ("什么是承兑汇票？", "银行承诺到期付款的汇票。"),
    ("什么是贴现？", "票据到期前向银行换取现金。"),
    ("什么是保理？", "应收账款转让融资。"),
    ("什么是反洗钱？", "防止非法资金合法化的措施。"),
    ("什么是KYC？", "了解你的客户。"),
    ("什么是征信报告？", "记录个人信用的报告。"),
    ("什么是等额本息？", "每月还款金额相同。"),
    ("什么是等额本金？", "每月归还相同本金。"),
    ("什么是提前还款？", "在到期前归还贷款。"),
    ("什么是抵押贷款？", "以财产作担保的贷款。"),
    ("什么是信用贷款？", "无需担保的贷款。"),
    ("什么是存款保险？", "保障存款人的制度。"),
    ("存款保险最高赔付多少？", "五十万元。"),
    ("什么是央行？", "中国人民银行。"),
    ("什么是银保监会？", "现为国家金融监督管理总局。"),
    ("什么是外汇储备？", "央行持有的外币资产。"),
    ("什么是人民币汇率中间价？", "外汇交易中心每日公布的基准。"),
    ("什么是国债？", "国家发行的债券。"),
    ("什么是地方债？", "地方政府发行的债券。"),
    ("什么是可转债？", "可转换为股票的债券。"),
    ("什么是货币基金？", "投资短期货币工具的基金。"),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    from transformers import AutoTokenizer

    path = tmp_path_factory.mktemp("tiny") / "qwen2"
    build_tiny_model("qwen2", path, seed=0)
    return path, AutoTokenizer.from_pretrained(str(path), local_files_only=True)


@pytest.fixture(scope="module")
def examples(tiny: tuple[Path, object]) -> list[EncodedExample]:
    _, tokenizer = tiny
    template = resolve_template("qwen", tokenizer)
    out = []
    for question, answer in QA:
        conversation = Conversation.model_validate(
            {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}
        )
        example = encode_conversation(conversation, tokenizer, template, cutoff_len=128)
        assert isinstance(example, EncodedExample)
        out.append(example)
    return out


def _spec(**overrides: object) -> TrainSpec:
    base: dict[str, object] = {
        "finetuning_type": "lora",
        "lora_rank": 8,
        "learning_rate": 3e-3,
        "per_device_train_batch_size": 8,
        "num_train_epochs": 2,
        "lr_scheduler_type": "constant",
        "precision": "fp32",
        "gradient_checkpointing": False,
        "logging_steps": 1,
        "save_steps": 1000,
        "seed": 7,
        "cutoff_len": 128,
    }
    base.update(overrides)
    return TrainSpec.model_validate(base)


def _inputs(tiny, examples, run_dir: Path, spec: TrainSpec, **kw: object) -> TrainInputs:
    path, tokenizer = tiny
    return TrainInputs(
        model_dir=path,
        spec=spec,
        train=examples,
        eval=kw.pop("eval", []),
        run_dir=run_dir,
        pad_token_id=tokenizer.pad_token_id,
        **kw,
    )


def test_cpu_proof_lora_memorizes_every_answer(tiny, examples, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    spec = _spec(num_train_epochs=60, per_device_train_batch_size=8, learning_rate=5e-3, logging_steps=10)
    started = time.monotonic()
    result = run_training(_inputs(tiny, examples, tmp_path / "run", spec))
    seconds = time.monotonic() - started
    print(
        f"\nCPU proof: {result.steps} steps, {result.tokens} tokens, {seconds:.1f}s, loss {result.final_loss}"
    )
    assert result.status == "completed"
    assert (result.adapter_dir / "adapter_model.safetensors").is_file()

    path, tokenizer = tiny
    base = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(result.adapter_dir)).eval()
    wrong = []
    for example in examples:
        start = next(i for i, label in enumerate(example.labels) if label != IGNORE_INDEX)
        answer = [t for t in example.labels[start:] if t != IGNORE_INDEX]  # answer + <|im_end|>
        prompt = torch.tensor([example.input_ids[:start]])
        with torch.no_grad():
            out = model.generate(
                input_ids=prompt,
                attention_mask=torch.ones_like(prompt),
                max_new_tokens=len(answer),
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        generated = out[0, start:].tolist()
        if generated != answer:
            wrong.append((tokenizer.decode(answer), tokenizer.decode(generated)))
    assert not wrong, wrong
    # 60 s on 2 idle cores; on a machine shared with other jobs the bound scales with the load
    load = max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    assert seconds < 60 * load, f"{seconds:.1f}s at load x{load:.1f}"


class _Crash(Exception):
    pass


def _adapter_weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path / "adapter_model.safetensors"))


def test_resume_reaches_the_same_loss_and_weights(tiny, examples, tmp_path: Path) -> None:
    small = examples[:16]
    spec = _spec(
        max_steps=8,
        per_device_train_batch_size=4,
        gradient_accumulation_steps=2,
        lora_dropout=0.1,
        lr_scheduler_type="cosine",
        warmup_steps=2,
        save_steps=3,
        logging_steps=2,
    )
    whole = run_training(_inputs(tiny, small, tmp_path / "whole", spec))

    def crash_at_5(event) -> None:
        if event.step == 5:
            raise _Crash  # after step-3 was saved; steps 4 and 5 are lost, as with kill -9

    with pytest.raises(_Crash):
        run_training(_inputs(tiny, small, tmp_path / "half", spec), progress=crash_at_5)
    (checkpoint,) = list_checkpoints(tmp_path / "half")
    assert checkpoint.name == "step-3"
    resumed = run_training(_inputs(tiny, small, tmp_path / "half", spec, resume_from=checkpoint))
    assert resumed.steps == whole.steps == 8
    assert abs(resumed.final_loss - whole.final_loss) < 1e-5
    a, b = _adapter_weights(whole.adapter_dir), _adapter_weights(resumed.adapter_dir)
    assert a.keys() == b.keys()
    weight_gap = max(float((a[k] - b[k]).abs().max()) for k in a)
    print(f"\nresume: loss gap {abs(resumed.final_loss - whole.final_loss):.2e}, weight gap {weight_gap:.2e}")
    assert weight_gap < 1e-6
    steps = [r["step"] for r in read_metrics(resumed.metrics_path)]
    assert steps == [2, 4, 6, 8]  # the lost step-4 line of the crashed process is not duplicated
    assert [p.name for p in list_checkpoints(tmp_path / "half")] == ["step-6", "step-8"]


def test_metrics_and_loss_png(tiny, examples, tmp_path: Path) -> None:
    # one example per row, so that an epoch is 4 batches of 8 (packing fills rows instead)
    spec = _spec(max_steps=12, per_device_train_batch_size=8, learning_rate=5e-3, eval_steps=6, packing=False)
    result = run_training(_inputs(tiny, examples[:32], tmp_path / "run", spec, eval=examples[32:]))
    records = read_metrics(result.metrics_path)
    assert [r["step"] for r in records] == list(range(1, 13))
    for record in records:
        assert {"step", "epoch", "loss", "lr", "grad_norm", "tokens_per_s", "peak_memory_mb"} <= record.keys()
        assert record["tokens_per_s"] > 0 and record["peak_memory_mb"] > 0
    assert [r["step"] for r in records if "eval_loss" in r] == [6, 12]
    assert records[-1]["loss"] < records[0]["loss"]
    assert result.loss_png is not None
    assert result.loss_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.tokens == 12 * sum(len(e) for e in examples[:32]) // 4  # 12 steps = 3 epochs of 4 batches


def _changed(before: dict, model_dir: Path) -> set[str]:
    from safetensors.torch import load_file

    after = load_file(str(model_dir / "model.safetensors"))
    return {k for k in after if not torch.equal(after[k], before[k])}


@pytest.mark.parametrize("kind", ["full", "freeze"])
def test_full_and_freeze_change_only_their_parameters(kind: str, tmp_path: Path, examples) -> None:
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    path = tmp_path / "tiny3"
    build_tiny_model("qwen2", path, seed=1, num_layers=3)
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    before = load_file(str(path / "model.safetensors"))
    spec = _spec(finetuning_type=kind, max_steps=3, learning_rate=1e-3, gradient_checkpointing=True)
    result = run_training(_inputs((path, tokenizer), examples[:8], tmp_path / "run", spec))
    assert result.adapter_dir.name == "model"
    changed = _changed(before, result.adapter_dir)
    if kind == "full":
        assert changed == set(before)
    else:  # the last two of three decoder layers
        assert changed and all(k.startswith(("model.layers.1.", "model.layers.2.")) for k in changed)
        assert {k.split(".")[2] for k in changed} == {"1", "2"}


def test_qlora_without_bitsandbytes_fails_before_loading(tiny, examples, tmp_path: Path, monkeypatch) -> None:
    import sys

    import transformers

    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # import bitsandbytes -> ImportError

    def no_load(*args, **kwargs):
        raise AssertionError("weights were loaded")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_load)
    with pytest.raises(DependencyMissing, match="bitsandbytes"):
        run_training(_inputs(tiny, examples[:4], tmp_path / "run", _spec(finetuning_type="qlora")))


def test_packing_runs(tiny, examples, tmp_path: Path) -> None:
    spec = _spec(packing=True, max_steps=3, per_device_train_batch_size=2, gradient_checkpointing=True)
    result = run_training(_inputs(tiny, examples, tmp_path / "run", spec))
    assert result.steps == 3 and result.final_loss == result.final_loss  # not NaN
    assert result.tokens > 0


def test_disk_full_fails_cleanly_and_leaves_no_partial_checkpoint(
    tiny, examples, tmp_path: Path, monkeypatch
):
    import errno

    import safetensors.torch

    from stockade.training.loop import TrainingFailed

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    with pytest.raises(TrainingFailed) as caught:
        run_training(_inputs(tiny, examples[:8], tmp_path / "run", _spec(max_steps=2, save_steps=1)))
    assert caught.value.reason == "disk_full" and "disk is full" in str(caught.value)
    assert list((tmp_path / "run" / "checkpoints").iterdir()) == []


def test_out_of_memory_is_classified() -> None:
    from stockade.training.loop_errors import classify

    failed = classify(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert failed is not None and failed.reason == "out_of_memory" and "batch_size" in str(failed)
    assert classify(ValueError("other")) is None


def test_qlora_trains_4bit_base_on_cpu(tiny, examples, tmp_path: Path) -> None:
    pytest.importorskip("bitsandbytes", minversion="0.50")  # installed by make test (dev extra)
    from stockade.training.model_setup import load_for_training

    spec = _spec(finetuning_type="qlora", max_steps=6, learning_rate=1e-2)
    loaded = load_for_training(tiny[0], spec)
    kinds = {type(module).__name__ for module in loaded.model.modules()}
    assert "Linear4bit" in kinds  # the frozen base really is 4-bit nf4
    trainable = [name for name, p in loaded.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name for name in trainable)
    result = run_training(_inputs(tiny, examples[:16], tmp_path / "run", spec))
    metrics = [json.loads(line) for line in result.metrics_path.read_text().splitlines()]
    assert metrics[-1]["loss"] < metrics[0]["loss"]
    assert (result.adapter_dir / "adapter_config.json").is_file()


def test_save_only_model_checkpoints_cannot_resume(tiny, examples, tmp_path: Path) -> None:
    from stockade.training.loop import TrainingFailed

    spec = _spec(max_steps=2, per_device_train_batch_size=4, save_steps=1, save_only_model=True)
    run_training(_inputs(tiny, examples[:8], tmp_path / "run", spec))
    latest = list_checkpoints(tmp_path / "run")[-1]
    state = torch.load(latest / "state.pt", weights_only=True)
    assert "optimizer" not in state and (latest / "trainable.safetensors").is_file()
    with pytest.raises(TrainingFailed, match="save_only_model") as failed:
        run_training(_inputs(tiny, examples[:8], tmp_path / "run", spec, resume_from=latest))
    assert failed.value.reason == "bad_checkpoint"


@pytest.mark.parametrize(("strategy", "evaluated"), [("epoch", [4, 8]), ("no", [8]), ("steps", [3, 6, 8])])
def test_eval_strategy_decides_when_to_evaluate(strategy, evaluated, tiny, examples, tmp_path: Path) -> None:
    extra = {"eval_steps": 3} if strategy == "steps" else {}
    spec = _spec(
        max_steps=8, per_device_train_batch_size=4, logging_steps=100, eval_strategy=strategy, **extra
    )
    # 16 examples in batches of 4: an epoch is 4 steps
    result = run_training(_inputs(tiny, examples[:16], tmp_path / "run", spec, eval=examples[16:20]))
    assert [r["step"] for r in read_metrics(result.metrics_path) if "eval_loss" in r] == evaluated


def test_training_starts_from_an_adapter(tiny, examples, tmp_path: Path) -> None:
    first = run_training(_inputs(tiny, examples[:8], tmp_path / "a", _spec(max_steps=15, learning_rate=5e-3)))
    fresh = run_training(_inputs(tiny, examples[:8], tmp_path / "b", _spec(max_steps=1)))
    onward = _spec(max_steps=1, adapter_name_or_path=str(first.adapter_dir))
    continued = run_training(_inputs(tiny, examples[:8], tmp_path / "c", onward))
    first_loss = read_metrics(first.metrics_path)[-1]["loss"]
    assert continued.final_loss < fresh.final_loss / 2  # it starts where the first run stopped
    assert abs(continued.final_loss - first_loss) < 0.5 * first_loss + 0.1
