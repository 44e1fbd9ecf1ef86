"""`stockade data preview`: how stored records look to the model — rendered, masked, counted."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from stockade.core.errors import DependencyMissing, StockadeError
from stockade.data.records import Conversation, KtoExample, PreferencePair, TextDocument, parse_record
from stockade.data.templates import Segment, resolve_template
from stockade.data.tokenization import EncodedExample, encode_conversation
from stockade.data.versions import find_version


@dataclass
class RecordPreview:
    index: int
    template: str
    segments: list[Segment]
    tokens: int | None
    trainable_tokens: int | None
    note: str | None = None


def _tokenizer(model_dir: Path) -> Any:
    try:
        from transformers import AutoTokenizer
    except ModuleNotFoundError:
        raise DependencyMissing(
            "transformers is not installed", fix="pip install 'stockade[train]'"
        ) from None
    if not (model_dir / "tokenizer_config.json").is_file() and not (model_dir / "tokenizer.json").is_file():
        raise StockadeError("no tokenizer in this folder", where=str(model_dir), fix="give a model folder")
    return AutoTokenizer.from_pretrained(model_dir, local_files_only=True)


def preview_records(
    engine: Any,
    workspace_root: Path,
    reference: str,
    model_dir: Path,
    *,
    template: str | None,
    count: int,
    cutoff_len: int,
) -> list[RecordPreview]:
    """Render the first ``count`` records of a version with a template and the model's tokenizer."""
    with Session(engine) as session:
        row = find_version(session, reference)
    data_file = workspace_root / row.path
    if row.status != "active" or not data_file.is_file():
        raise StockadeError(f"{row.name}@v{row.version} has no data (status {row.status})")
    tokenizer = _tokenizer(model_dir)
    chosen = resolve_template(template, tokenizer)
    previews = []
    with data_file.open(encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            if index >= count:
                break
            record = parse_record(json.loads(line))
            if isinstance(record, TextDocument):
                raise StockadeError(
                    f"{row.name}@v{row.version} holds plain text (stage pt), which no chat template renders",
                    fix="preview a conversation or preference dataset; text trains as it is",
                )
            # a preference pair previews with its chosen answer, a KTO example as its conversation
            conversation: Conversation = (
                record.conversation("chosen")
                if isinstance(record, PreferencePair)
                else record.conversation()
                if isinstance(record, KtoExample)
                else record
            )
            encoded = encode_conversation(conversation, tokenizer, chosen, cutoff_len=cutoff_len)
            segments = chosen.render(conversation, tokenizer)
            if isinstance(encoded, EncodedExample):
                previews.append(
                    RecordPreview(
                        index,
                        chosen.name,
                        segments,
                        len(encoded.input_ids),
                        encoded.trainable_tokens,
                        "truncated" if encoded.truncated else None,
                    )
                )
            else:
                previews.append(
                    RecordPreview(index, chosen.name, segments, None, None, f"skipped: {encoded.detail}")
                )
    return previews
