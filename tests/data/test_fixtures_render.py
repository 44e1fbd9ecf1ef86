"""Done-when: every local dataset of the LLaMA-Factory fixtures reads and renders with `qwen`."""

from __future__ import annotations

from pathlib import Path

import pytest

from stockade.data.readers import read_records, resolve_dataset_info
from stockade.data.records import Conversation
from stockade.data.templates import resolve_template
from stockade.data.tokenization import IGNORE_INDEX, EncodedExample, encode_conversation
from tests.conftest import LLAMAFACTORY_DATA

LOCAL_ENTRIES = ["alpaca_zh_demo", "alpaca_en_demo", "identity", "glaive_toolcall_zh_demo"]


@pytest.fixture(scope="module")
def qwen_tokenizer(tmp_path_factory: pytest.TempPathFactory):
    from transformers import AutoTokenizer

    from stockade.models.tiny import build_tiny_model

    info = build_tiny_model("qwen2", tmp_path_factory.mktemp("tiny") / "qwen2")
    return AutoTokenizer.from_pretrained(info.path, local_files_only=True)


@pytest.mark.parametrize("entry", LOCAL_ENTRIES)
def test_fixture_entry_renders_with_qwen(entry: str, qwen_tokenizer, tmp_path: Path) -> None:
    (source,) = resolve_dataset_info(LLAMAFACTORY_DATA, [entry])
    template = resolve_template("qwen", qwen_tokenizer)
    records = list(read_records(source))
    assert records and all(isinstance(r, Conversation) for r in records), [
        r.render() for r in records if not isinstance(r, Conversation)
    ][:3]
    for record in records:
        text = "".join(segment.text for segment in template.render(record, qwen_tokenizer))
        assert text.startswith("<|im_start|>system\n") and text.rstrip().endswith("<|im_end|>")
        encoded = encode_conversation(record, qwen_tokenizer, template, cutoff_len=4096)
        assert isinstance(encoded, EncodedExample) and encoded.trainable_tokens > 0
        assert len(encoded.input_ids) == len(encoded.labels)
        assert any(label != IGNORE_INDEX for label in encoded.labels)
