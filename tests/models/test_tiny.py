"""Tiny random-init models: real architectures, consistent tokenizers, chat templates, reproducibility."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from stockade.core.errors import ConfigError, DependencyMissing, StockadeError
from stockade.models.tiny import ARCH_TEMPLATE_NAMES, TINY_ARCHS, TinyModelInfo, build_tiny_model

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

pytestmark = pytest.mark.slow

ARCHS = ["qwen2", "qwen3", "llama", "glm4", "mistral"]
CLASSES = {
    "qwen2": "Qwen2ForCausalLM",
    "qwen3": "Qwen3ForCausalLM",
    "llama": "LlamaForCausalLM",
    "glm4": "Glm4ForCausalLM",
    "mistral": "MistralForCausalLM",
}
# What AutoTokenizer builds in transformers 5: the model_type's own class for Qwen, else the generic one.
TOKENIZER_CLASSES = {
    "qwen2": "Qwen2Tokenizer",
    "qwen3": "Qwen2Tokenizer",
    "llama": "TokenizersBackend",
    "glm4": "TokenizersBackend",
    "mistral": "TokenizersBackend",
}
SAMPLES = [
    "本行3年期定期存款利率为2.35%，贷款余额1,234,567.89元。",
    "The 10-year Treasury yield rose 7bp to 4.31% in Q3 2024; NPL ratio: 1.27%.",
    "客户经理小王说：“LPR 下调了 10 个基点”，don't worry!\n\n  缩进\t制表符  两个空格",
    "编号20240315000128，电话400-820-1234，emoji 😀 and Ａ full-width, e\u0301 combining.",
]
CONVERSATION = [
    {"role": "system", "content": "你是银行客服。"},
    {"role": "user", "content": "你好"},
    {"role": "assistant", "content": "您好，请问有什么可以帮您？"},
    {"role": "user", "content": "查询余额"},
]
RENDERED = {
    "qwen2": "<|im_start|>system\n你是银行客服。<|im_end|>\n<|im_start|>user\n你好<|im_end|>\n"
    "<|im_start|>assistant\n您好，请问有什么可以帮您？<|im_end|>\n<|im_start|>user\n查询余额<|im_end|>\n"
    "<|im_start|>assistant\n",
    "qwen3": "<|im_start|>system\n你是银行客服。<|im_end|>\n<|im_start|>user\n你好<|im_end|>\n"
    "<|im_start|>assistant\n您好，请问有什么可以帮您？<|im_end|>\n<|im_start|>user\n查询余额<|im_end|>\n"
    "<|im_start|>assistant\n",
    "llama": "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n你是银行客服。<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\n你好<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n您好，请问有什么可以帮您？<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\n查询余额<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n",
    "glm4": "[gMASK]<sop><|system|>\n你是银行客服。<|user|>\n你好<|assistant|>\n您好，请问有什么可以帮您？"
    "<|user|>\n查询余额<|assistant|>",
    "mistral": "<s>[INST] 你是银行客服。\n\n你好[/INST] 您好，请问有什么可以帮您？</s>[INST] 查询余额[/INST]",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TinyModelInfo]:
    root = tmp_path_factory.mktemp("tiny")
    return {arch: build_tiny_model(arch, root / arch) for arch in ARCHS}


def _auto_tokenizer(info: TinyModelInfo):
    return transformers.AutoTokenizer.from_pretrained(info.path, local_files_only=True)


def _ids(tokenizer, text: str, **kwargs) -> list[int]:
    return tokenizer(text, **kwargs)["input_ids"]


@pytest.mark.parametrize("arch", ARCHS)
def test_reloads_as_the_real_architecture(built: dict[str, TinyModelInfo], arch: str) -> None:
    info = built[arch]
    model = transformers.AutoModelForCausalLM.from_pretrained(info.path, local_files_only=True)
    tokenizer = _auto_tokenizer(info)
    config = model.config
    assert type(model).__name__ == CLASSES[arch] == info.architecture
    assert config.model_type == TINY_ARCHS.get(arch).model_type == info.model_type
    assert config.architectures == [CLASSES[arch]]
    assert config.hidden_size <= 256 and 2 <= config.num_hidden_layers <= 4
    assert (config.num_attention_heads, config.num_key_value_heads) == (4, 2)
    assert config.intermediate_size == 2 * config.hidden_size
    assert config.tie_word_embeddings and config.initializer_range == pytest.approx(0.1)
    assert model.lm_head.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    assert 0.08 < model.get_input_embeddings().weight.std().item() < 0.12
    assert type(tokenizer).__name__ == TOKENIZER_CLASSES[arch]
    assert config.vocab_size == len(tokenizer) == info.vocab_size
    assert 2000 <= info.vocab_size <= 4000
    assert info.num_parameters == model.num_parameters()
    assert info.template == ARCH_TEMPLATE_NAMES[arch]
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json"} <= set(info.files)
    assert set(info.files) == {p.name for p in info.path.iterdir()}


@pytest.mark.parametrize("arch", ARCHS)
def test_special_token_ids_agree_between_config_and_tokenizer(
    built: dict[str, TinyModelInfo], arch: str
) -> None:
    info = built[arch]
    tokenizer = _auto_tokenizer(info)
    config = json.loads((info.path / "config.json").read_text())
    generation = json.loads((info.path / "generation_config.json").read_text())
    config_eos = (
        config["eos_token_id"] if isinstance(config["eos_token_id"], list) else [config["eos_token_id"]]
    )
    assert tokenizer.eos_token_id == config_eos[0]
    assert tokenizer.eos_token_id in generation["eos_token_id"]
    assert tokenizer.pad_token_id == config["pad_token_id"] == generation["pad_token_id"]
    if tokenizer.bos_token_id is not None:
        assert tokenizer.bos_token_id == config["bos_token_id"]
    for token in TINY_ARCHS.get(arch).special_tokens:
        assert tokenizer.convert_ids_to_tokens(tokenizer.convert_tokens_to_ids(token)) == token
        assert len(_ids(tokenizer, token, add_special_tokens=False)) == 1, token


@pytest.mark.parametrize("arch", ARCHS)
def test_generates_from_the_chat_template(built: dict[str, TinyModelInfo], arch: str) -> None:
    info = built[arch]
    model = transformers.AutoModelForCausalLM.from_pretrained(info.path, local_files_only=True)
    tokenizer = _auto_tokenizer(info)
    batch = tokenizer.apply_chat_template(
        [{"role": "user", "content": "我的信用卡账单是多少？"}],
        add_generation_prompt=True,
        return_dict=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        output = model.generate(**batch, max_new_tokens=5, do_sample=False)
    prompt_length = batch["input_ids"].shape[1]
    assert output.shape[1] > prompt_length
    assert torch.equal(output[0, :prompt_length], batch["input_ids"][0])


@pytest.mark.parametrize("arch", ARCHS)
def test_ids_identical_whichever_way_the_tokenizer_is_loaded(
    built: dict[str, TinyModelInfo], arch: str
) -> None:
    info = built[arch]
    auto = _auto_tokenizer(info)
    raw = tokenizers.Tokenizer.from_file(str(info.path / "tokenizer.json"))
    fast = transformers.PreTrainedTokenizerFast(tokenizer_file=str(info.path / "tokenizer.json"))
    for text in SAMPLES:
        for special in (True, False):
            expected = raw.encode(text, add_special_tokens=special).ids
            assert _ids(auto, text, add_special_tokens=special) == expected, (text, special)
            assert _ids(fast, text, add_special_tokens=special) == expected, (text, special)
        plain = raw.encode(text, add_special_tokens=False).ids
        normalized = unicodedata.normalize("NFC", text) if TINY_ARCHS.get(arch).nfc else text
        assert auto.decode(plain) == normalized == raw.decode(plain)
    assert any(len(raw.encode(text).ids) < len(text.encode()) / 2 for text in SAMPLES)  # BPE merged something


@pytest.mark.parametrize("arch", ARCHS)
def test_chat_template_renders_system_and_turns(built: dict[str, TinyModelInfo], arch: str) -> None:
    tokenizer = _auto_tokenizer(built[arch])
    text = tokenizer.apply_chat_template(CONVERSATION, add_generation_prompt=True, tokenize=False)
    assert text == RENDERED[arch]
    ids = tokenizer.apply_chat_template(CONVERSATION, add_generation_prompt=True, return_dict=True)[
        "input_ids"
    ]
    assert ids == _ids(tokenizer, RENDERED[arch], add_special_tokens=False)
    special_ids = {tokenizer.convert_tokens_to_ids(t) for t in TINY_ARCHS.get(arch).special_tokens}
    assert sum(i in special_ids for i in ids) >= 5  # role markers are single special tokens


def test_qwen_system_prompt_and_thinking(built: dict[str, TinyModelInfo]) -> None:
    qwen2 = _auto_tokenizer(built["qwen2"])
    text = qwen2.apply_chat_template(
        [{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False
    )
    assert text.startswith("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud.")
    qwen3 = _auto_tokenizer(built["qwen3"])
    user = [{"role": "user", "content": "hi"}]
    assert "system" not in qwen3.apply_chat_template(user, add_generation_prompt=True, tokenize=False)
    off = qwen3.apply_chat_template(user, add_generation_prompt=True, tokenize=False, enable_thinking=False)
    assert off.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    history = [
        *user,
        {"role": "assistant", "content": "<think>old</think>A"},
        {"role": "user", "content": "q"},
    ]
    assert "old" not in qwen3.apply_chat_template(history, tokenize=False)
    final = [*user, {"role": "assistant", "content": "<think>why</think>A"}]
    assert "<think>\nwhy\n</think>\n\nA<|im_end|>" in qwen3.apply_chat_template(final, tokenize=False)
    assert qwen3.decode(qwen3.convert_tokens_to_ids(["<think>"]), skip_special_tokens=True) == "<think>"


def test_same_seed_same_bytes_other_seed_other_weights(tmp_path: Path) -> None:
    def digests(folder: Path) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}

    first = build_tiny_model("qwen2", tmp_path / "a", seed=7)
    second = build_tiny_model("qwen2", tmp_path / "b", seed=7)
    other = build_tiny_model("qwen2", tmp_path / "c", seed=8)
    assert digests(first.path) == digests(second.path)
    assert digests(first.path)["model.safetensors"] != digests(other.path)["model.safetensors"]
    assert digests(first.path)["tokenizer.json"] == digests(other.path)["tokenizer.json"]


def test_non_empty_output_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(StockadeError) as caught:
        build_tiny_model("qwen2", tmp_path)
    assert caught.value.where == str(tmp_path) and "not empty" in caught.value.what and caught.value.fix
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_unknown_arch_and_bad_shape_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        build_tiny_model("qwen", tmp_path / "m")
    assert "did you mean 'qwen" in str(caught.value) and "glm4" in str(caught.value)
    with pytest.raises(ConfigError):
        build_tiny_model("llama", tmp_path / "m", hidden_size=512)
    with pytest.raises(ConfigError):
        build_tiny_model("llama", tmp_path / "m", num_layers=5)
    assert not (tmp_path / "m").exists()


def test_missing_torch_is_a_dependency_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(DependencyMissing) as caught:
        build_tiny_model("qwen2", tmp_path / "m")
    assert "stockade[train]" in str(caught.value)
    assert not (tmp_path / "m").exists()


def test_importing_the_package_does_not_import_torch() -> None:
    code = (
        "import sys, stockade.models.tiny; "
        "print(sorted({'torch', 'transformers', 'tokenizers'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


BRANCHES = ["城东支行", "城西支行", "城南支行", "城北支行", "人民路支行"]
RECORDS = [
    (f"{branch}：{question}", answer)
    for branch in BRANCHES
    for question, answer in [
        ("信用卡账单日是哪天？", "每月5日出账单。"),
        ("最后还款日是哪天？", "每月23日前还款。"),
        ("卡丢了怎么办？", "请立即电话挂失。"),
        ("转账多久到账？", "一般两小时内到账。"),
        ("定期利率是多少？", "三年期为2.35%。"),
        ("网点几点开门？", "工作日上午9点。"),
        ("怎么修改密码？", "请在手机银行修改。"),
        ("理财保本吗？", "理财不保本，投资需谨慎。"),
    ]
]


@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")
def test_lora_learns_on_a_frozen_tiny_base(built: dict[str, TinyModelInfo]) -> None:
    peft = pytest.importorskip("peft")
    info = built["qwen2"]
    tokenizer = _auto_tokenizer(info)
    base = transformers.AutoModelForCausalLM.from_pretrained(info.path, local_files_only=True)
    lora = peft.LoraConfig(
        r=8, lora_alpha=16, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"
    )
    model = peft.get_peft_model(base, lora)
    texts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": q}, {"role": "assistant", "content": a}], tokenize=False
        )
        for q, a in RECORDS
    ]
    assert len(texts) == 40
    batch = tokenizer(texts, padding=True, add_special_tokens=False, return_tensors="pt")
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert 0 < sum(p.numel() for p in trainable) < 0.2 * sum(p.numel() for p in model.parameters())
    frozen = base.get_input_embeddings().weight.detach().clone()
    optimizer = torch.optim.AdamW(trainable, lr=5e-3)
    torch.manual_seed(0)
    losses = []
    model.train()
    for _ in range(20):  # about 3 s on 2 CPU cores
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses
    assert torch.equal(base.get_input_embeddings().weight, frozen)
