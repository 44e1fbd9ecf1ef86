"""Train the tiny byte-level BPE tokenizer and save it the way the real model family ships its own.

transformers 5 picks the tokenizer class from ``config.model_type`` / ``tokenizer_class`` and some
classes (``Qwen2Tokenizer``) rebuild the normalizer and pre-tokenizer themselves, keeping only the
vocab and merges of ``tokenizer.json``. So the BPE is trained with exactly the pipeline of the class
that will load it; then every loader yields the same ids.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from stockade.models.tiny.arch import TinyArch

CORPUS = "corpus_zh_en.txt"
VOCAB_TARGET = 3000
MIN_FREQUENCY = 2
MAX_LENGTH = 2048


def corpus_lines() -> list[str]:
    """The shipped Chinese/English training text, one sample per line."""
    text = resources.files("stockade.models.tiny").joinpath(CORPUS).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def train_tokenizer(arch: TinyArch) -> Any:
    """A ``tokenizers.Tokenizer`` trained on the corpus with ``arch``'s pipeline and special tokens."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )

    tokenizer = Tokenizer(models.BPE())  # no unk: byte-level, every input is encodable
    if arch.nfc:
        tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(arch.split_regex), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_TARGET,
        min_frequency=MIN_FREQUENCY,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[AddedToken(t, special=True, normalized=False) for t in arch.leading_specials],
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus_lines(), trainer)
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in arch.special_tokens])
    if arch.plain_tokens:
        tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in arch.plain_tokens])

    steps = [processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)]
    if arch.add_bos and arch.bos:
        bos = arch.bos
        steps.append(
            processors.TemplateProcessing(
                single=f"{bos}:0 $A:0",
                pair=f"{bos}:0 $A:0 {bos}:1 $B:1",
                special_tokens=[(bos, tokenizer.token_to_id(bos))],
            )
        )
    tokenizer.post_processor = processors.Sequence(steps)
    return tokenizer


def save_tokenizer(arch: TinyArch, tokenizer: Any, out: Path) -> Any:
    """Write tokenizer.json, tokenizer_config.json and chat_template.jinja; return the HF tokenizer."""
    from transformers import PreTrainedTokenizerFast

    # No add_bos_token here: transformers 5 neither saves it nor reads it back when tokenizer.json
    # exists, and passing it would replace the post-processor that prepends bos.
    named = {arch.bos, arch.eos, arch.pad, arch.unk}
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=arch.bos,
        eos_token=arch.eos,
        pad_token=arch.pad,
        unk_token=arch.unk,
        extra_special_tokens=[t for t in arch.special_tokens if t not in named],
        chat_template=arch.chat_template,
        model_max_length=MAX_LENGTH,
        clean_up_tokenization_spaces=False,
    )
    wrapped.save_pretrained(out)
    _set_tokenizer_class(out / "tokenizer_config.json", arch.tokenizer_class)
    return wrapped


def _set_tokenizer_class(config_file: Path, class_name: str) -> None:
    # transformers writes the class it was given (TokenizersBackend); real repos name their own.
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["tokenizer_class"] = class_name
    config_file.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
