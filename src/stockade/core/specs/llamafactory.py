"""LLaMA-Factory's training argument names and Stockade's answer to each (``llamafactory_keys.yaml``).

Every name is ``honoured`` (a TrainSpec field or alias) or refused by name, with the reason and what to
do instead; the spec loader uses :func:`refused_keys` and docs/configuration.md shows :func:`key_table`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

KEYS_FILE = Path(__file__).with_name("llamafactory_keys.yaml")
HONOURED = "honoured"


@dataclass(frozen=True)
class LlamaFactoryKey:
    name: str
    source: str  # LLaMA-Factory's dataclass (or transformers' Seq2SeqTrainingArguments)
    status: str  # "honoured" or the name of a reason
    reason: str = ""
    fix: str = ""

    @property
    def refusal(self) -> str:
        return f"{self.name} (LLaMA-Factory) is not accepted: {self.reason}. Instead: {self.fix}"


@cache
def key_table() -> tuple[LlamaFactoryKey, ...]:
    """Every LLaMA-Factory key of the data file, in its order."""
    data = yaml.safe_load(KEYS_FILE.read_text(encoding="utf-8"))
    reasons = data["reasons"]
    keys = []
    for source, names in data["sections"].items():
        for name, status in names.items():
            if status == HONOURED:
                keys.append(LlamaFactoryKey(name, source, status))
            else:
                reason = reasons[status]  # a KeyError here is a broken data file (a test walks it)
                keys.append(LlamaFactoryKey(name, source, status, reason["reason"], reason["fix"]))
    return tuple(keys)


@cache
def refused_keys() -> dict[str, str]:
    """Refused key -> the message the spec loader gives for it."""
    return {key.name: key.refusal for key in key_table() if key.status != HONOURED}
