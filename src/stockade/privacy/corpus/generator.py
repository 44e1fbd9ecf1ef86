"""The labeled corpus: documents with planted personal data (gold spans) and decoys.

Offsets are Python string indices (code points), ``text[start:end]`` is the labeled string. Gold spans
are the minimal strings a desensitizer must remove: decorations around a number are outside them
(``+86``/``0086`` before a mobile, the opening parenthesis of an area code, an extension such as
``转801``; ``先生``/``女士`` after a surname), so a detector that includes them still covers the span.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from stockade.privacy.corpus import checks, templates, values
from stockade.privacy.corpus.lexicon import BANKS, COMPANIES, PRODUCTS
from stockade.privacy.spans import PiiType

_SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, order=True)
class GoldSpan:
    start: int
    end: int
    type: PiiType


@dataclass(frozen=True, order=True)
class Decoy:
    """A look-alike that is not personal data and must survive desensitization verbatim."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True)
class LabeledDoc:
    text: str
    spans: list[GoldSpan] = field(default_factory=list)
    decoys: list[Decoy] = field(default_factory=list)
    kind: str = ""

    def value(self, item: GoldSpan | Decoy) -> str:
        return self.text[item.start : item.end]

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "text": self.text,
            "spans": [
                {"start": s.start, "end": s.end, "type": s.type.value, "value": self.value(s)}
                for s in self.spans
            ],
            "decoys": [
                {"start": d.start, "end": d.end, "kind": d.kind, "value": self.value(d)} for d in self.decoys
            ],
        }

    @classmethod
    def from_dict(cls, data: dict) -> LabeledDoc:
        return cls(
            text=data["text"],
            spans=[GoldSpan(s["start"], s["end"], PiiType(s["type"])) for s in data["spans"]],
            decoys=[Decoy(d["start"], d["end"], d["kind"]) for d in data["decoys"]],
            kind=data.get("kind", ""),
        )


class _Writer:
    """Builds one document, recording the offsets of what it plants."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.parts: list[str] = []
        self.length = 0
        self.spans: list[GoldSpan] = []
        self.decoys: list[Decoy] = []
        self.person = values.Person(rng)
        self.agent = values.Person(rng)
        self.other = values.Person(rng)

    def literal(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def pii(self, pii_type: PiiType, planted: values.Planted) -> None:
        prefix, value, suffix = planted
        if not checks.is_valid(pii_type, value):
            raise AssertionError(f"generated {pii_type} {value!r} fails its validator")
        self.literal(prefix)
        self.spans.append(GoldSpan(self.length, self.length + len(value), pii_type))
        self.literal(value)
        self.literal(suffix)

    def decoy(self, kind: str) -> None:
        make = values.DECOYS[kind]
        value = make(self.rng)
        while checks.looks_like_pii(value):  # never plant a decoy that a correct validator accepts
            value = make(self.rng)
        self.decoys.append(Decoy(self.length, self.length + len(value), kind))
        self.literal(value)

    def render(self, template: str) -> None:
        pieces = _SLOT.split(template)
        for position, piece in enumerate(pieces):
            if position % 2 == 0:
                self.literal(piece)
            else:
                SLOTS[piece](self)

    def doc(self, kind: str) -> LabeledDoc:
        return LabeledDoc("".join(self.parts), self.spans, self.decoys, kind)


def _person(attr: str, which: str) -> Callable[[_Writer], None]:
    def fill(w: _Writer) -> None:
        person = getattr(w, which)
        w.pii(PiiType.PERSON, ("", getattr(person, attr), ""))

    return fill


def _literal(make: Callable[[_Writer], str]) -> Callable[[_Writer], None]:
    return lambda w: w.literal(make(w))


def _planted(pii_type: PiiType, make: Callable[[random.Random], values.Planted]) -> Callable[[_Writer], None]:
    return lambda w: w.pii(pii_type, make(w.rng))


SLOTS: dict[str, Callable[[_Writer], None]] = {
    # people (consistent within a document: the customer, a bank employee, a third person)
    "name": _person("name", "person"),
    "surname": _person("surname", "person"),
    "pname": _person("pinyin", "person"),
    "agent": _person("name", "agent"),
    "name2": _person("name", "other"),
    "hon": _literal(lambda w: w.person.honorific),
    "title": _literal(lambda w: w.person.title_en),
    "gender": _literal(lambda w: "女" if w.person.female else "男"),
    # structured personal data
    "id": _planted(PiiType.ID_CARD, values.id_card),
    "id15": _planted(PiiType.ID_CARD, lambda rng: ("", values.id_card15(rng), "")),
    "mobile": _planted(PiiType.MOBILE, values.mobile),
    "landline": _planted(PiiType.LANDLINE, values.landline),
    "card": _planted(PiiType.BANK_CARD, values.bank_card),
    "uscc": _planted(PiiType.USCC, values.uscc),
    "passport": _planted(PiiType.PASSPORT, values.passport),
    "hk_permit": _planted(PiiType.HK_MACAO_PERMIT, values.hk_macao_permit),
    "home_return": _planted(PiiType.HK_MACAO_PERMIT, values.home_return_permit),
    "email": lambda w: w.pii(PiiType.EMAIL, values.email(w.rng, w.person if w.rng.random() < 0.6 else None)),
    "ipv4": _planted(PiiType.IPV4, values.ipv4),
    "ipv6": _planted(PiiType.IPV6, values.ipv6),
    "plate": _planted(PiiType.LICENSE_PLATE, values.license_plate),
    "address": _planted(PiiType.ADDRESS, values.address),
    # filler that is neither
    "bank": _literal(lambda w: w.rng.choice(BANKS)),
    "company": _literal(lambda w: w.rng.choice(COMPANIES)),
    "product": _literal(lambda w: w.rng.choice(PRODUCTS)),
    "n": _literal(lambda w: str(w.rng.randint(1, 5))),
}
SLOTS.update({kind: (lambda w, k=kind: w.decoy(k)) for kind in values.DECOYS})
# Template slot names that differ from decoy kinds.
SLOTS.update({"stock": SLOTS["stock_code"], "contract": SLOTS["contract_no"]})


def generate_doc(rng: random.Random) -> LabeledDoc:
    kind = rng.choice(templates.KINDS)
    w = _Writer(rng)
    if rng.random() < 0.12:
        w.render(rng.choice(templates.LEADS))
    lines = []
    if rng.random() < 0.8:
        lines.append(rng.choice(kind.openers))
    lines += rng.sample(kind.body, min(len(kind.body), rng.randint(*kind.body_count)))
    if rng.random() < 0.5:
        lines.append(rng.choice(kind.closers))
    for position, line in enumerate(lines):
        if position:
            w.literal(kind.joiner)
        w.render(line)
    if rng.random() < 0.12:
        trail = rng.choice(templates.TRAILS)
        w.render(trail if lines else trail.lstrip("\n。"))
    return w.doc(kind.name)


def generate_corpus(n_docs: int, seed: int = 0) -> Iterator[LabeledDoc]:
    """``n_docs`` labeled documents; document ``i`` depends only on ``(seed, i)``."""
    for i in range(n_docs):
        yield generate_doc(random.Random(f"stockade-corpus:{seed}:{i}"))  # noqa: S311 - synthetic data


def write_corpus_jsonl(path: str | Path, n_docs: int, seed: int = 0) -> Path:
    """One JSON object per line: ``kind``, ``text``, ``spans`` and ``decoys`` (offsets, type/kind, value)."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as out:
        for doc in generate_corpus(n_docs, seed):
            out.write(json.dumps(doc.to_dict(), ensure_ascii=False) + "\n")
    return path


def read_corpus_jsonl(path: str | Path) -> Iterator[LabeledDoc]:
    with Path(path).open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield LabeledDoc.from_dict(json.loads(line))


INSTRUCTIONS = (
    "请对以下客服记录进行摘要。",
    "根据以下材料判断客户的风险等级，并说明理由。",
    "请将以下内容整理成规范的工单回复。",
    "Summarize the following banking record in Chinese.",
    "请根据材料起草一份回访话术。",
)


def alpaca_labels_path(path: str | Path) -> Path:
    """Where ``write_alpaca_corpus`` puts the labels of ``path``: ``NAME.labels.jsonl`` beside it."""
    path = Path(path)
    return path.with_name(path.stem + ".labels.jsonl")


def write_alpaca_corpus(path: str | Path, n_docs: int, seed: int = 0) -> Path:
    """``n_docs`` alpaca records (JSONL) for end-to-end tests of ``stockade data desensitize``.

    Record ``i`` has a fixed instruction without personal data, ``input`` = document ``2i`` and
    ``output`` = document ``2i+1`` of ``generate_corpus(2 * n_docs, seed)``. The labels go to a sidecar
    file (see ``alpaca_labels_path``), one line per record: ``{"index": i, "input": {"spans": [...],
    "decoys": [...]}, "output": {...}}`` with offsets into that field and the labeled values.
    Returns the sidecar's path.
    """
    path = Path(path)
    labels = alpaca_labels_path(path)
    docs = generate_corpus(2 * n_docs, seed)
    with path.open("w", encoding="utf-8") as out, labels.open("w", encoding="utf-8") as side:
        for i in range(n_docs):
            question, answer = next(docs), next(docs)
            record = {
                "instruction": INSTRUCTIONS[i % len(INSTRUCTIONS)],
                "input": question.text,
                "output": answer.text,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            entry: dict = {"index": i}
            for name, doc in (("input", question), ("output", answer)):
                data = doc.to_dict()
                entry[name] = {"spans": data["spans"], "decoys": data["decoys"]}
            side.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return labels


def iter_alpaca_labels(path: str | Path) -> Iterable[dict]:
    """The sidecar lines of an alpaca corpus written by ``write_alpaca_corpus`` (given the data path)."""
    with alpaca_labels_path(path).open(encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)
