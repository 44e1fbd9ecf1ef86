"""Scoring a detector, or a whole desensitizer, against the labeled corpus.

Definitions (``g`` a gold span, ``d`` a detected span; offsets are ``[start, end)``):

- **found**: some ``d`` of the *same type* covers ``g``: ``d.start <= g.start and d.end >= g.end``.
  For PERSON and ADDRESS, whose boundaries are fuzzier, it is enough that ``d`` overlaps at least
  90 % of ``g``'s characters: ``|d ∩ g| >= 0.9 * |g|``. Recall of a type = found / gold.
- **correct**: a ``d`` that overlaps (by at least one character) a gold span of its own type.
  Precision of a type = correct / detected. A span over a decoy, over plain text, or over PII of
  another type is a false positive.
- **kept**: a decoy no ``d`` of any type overlaps. Decoys kept = kept / decoys.
- **structured recall**: found / gold summed over every type but PERSON and ADDRESS;
  **names/addresses recall**: the same over PERSON and ADDRESS.

After desensitization (``evaluate_desensitized``) offsets are lost, so the check is by value: a gold
span *leaked* if its raw string still occurs in the output more often than it occurs in the input
outside gold spans (a one-character surname is probed together with the character after it, so
``王先生`` is looked for as ``王先``); a decoy is *intact* if the output still holds it verbatim, probed
with the character of plain text on each side (where there is one) so that a decoy number inside a leaked card
number cannot pass for it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from stockade.privacy.corpus.generator import Decoy, GoldSpan, LabeledDoc
from stockade.privacy.spans import STRUCTURED_TYPES, PiiType, Span

FUZZY_TYPES: frozenset[PiiType] = frozenset({PiiType.PERSON, PiiType.ADDRESS})
FUZZY_OVERLAP = 0.9

STRUCTURED_RECALL_TARGET = 0.995
DECOYS_KEPT_TARGET = 0.97
NAMES_ADDRESSES_RECALL_TARGET = 0.90


def covers(detected_start: int, detected_end: int, gold: GoldSpan) -> bool:
    if detected_start <= gold.start and detected_end >= gold.end:
        return True
    if gold.type in FUZZY_TYPES:
        overlap = min(detected_end, gold.end) - max(detected_start, gold.start)
        return overlap >= FUZZY_OVERLAP * (gold.end - gold.start)
    return False


def _overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    return a_start < b_end and b_start < a_end


@dataclass
class TypeScore:
    gold: int = 0
    found: int = 0
    detected: int = 0
    correct: int = 0

    @property
    def recall(self) -> float | None:
        return self.found / self.gold if self.gold else None

    @property
    def precision(self) -> float | None:
        return self.correct / self.detected if self.detected else None


@dataclass
class DecoyScore:
    total: int = 0
    kept: int = 0

    @property
    def rate(self) -> float | None:
        return self.kept / self.total if self.total else None


@dataclass(frozen=True)
class Check:
    """One target: ``value`` (a rate, or None when nothing was measured) against ``target``."""

    name: str
    value: float | None
    target: float

    @property
    def passed(self) -> bool:
        return self.value is not None and self.value >= self.target


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def _context(text: str, start: int, end: int, width: int = 12) -> str:
    return f"{text[max(0, start - width) : start]}[{text[start:end]}]{text[end : end + width]}"


@dataclass
class Report:
    """What ``evaluate`` measured. ``examples`` holds a few misses, false positives and destroyed decoys."""

    docs: int = 0
    chars: int = 0
    types: dict[PiiType, TypeScore] = field(default_factory=lambda: {t: TypeScore() for t in PiiType})
    decoys: dict[str, DecoyScore] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def recall(self, types: Iterable[PiiType]) -> float | None:
        chosen = [self.types[t] for t in types]
        return _rate(sum(s.found for s in chosen), sum(s.gold for s in chosen))

    @property
    def structured_recall(self) -> float | None:
        return self.recall(STRUCTURED_TYPES)

    @property
    def names_addresses_recall(self) -> float | None:
        return self.recall(FUZZY_TYPES)

    @property
    def decoys_kept(self) -> float | None:
        return _rate(sum(s.kept for s in self.decoys.values()), sum(s.total for s in self.decoys.values()))

    def checks(self) -> list[Check]:
        rows = [Check("structured recall (all)", self.structured_recall, STRUCTURED_RECALL_TARGET)]
        rows += [
            Check(f"recall {t.value}", self.types[t].recall, STRUCTURED_RECALL_TARGET)
            for t in PiiType
            if t in STRUCTURED_TYPES and self.types[t].gold
        ]
        rows += [
            Check(f"recall {t.value}", self.types[t].recall, NAMES_ADDRESSES_RECALL_TARGET)
            for t in (PiiType.PERSON, PiiType.ADDRESS)
            if self.types[t].gold
        ]
        rows.append(Check("decoys kept", self.decoys_kept, DECOYS_KEPT_TARGET))
        return rows

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks())

    def to_dict(self) -> dict:
        return {
            "docs": self.docs,
            "chars": self.chars,
            "structured_recall": self.structured_recall,
            "names_addresses_recall": self.names_addresses_recall,
            "decoys_kept": self.decoys_kept,
            "types": {
                t.value: {
                    "gold": s.gold,
                    "found": s.found,
                    "recall": s.recall,
                    "detected": s.detected,
                    "correct": s.correct,
                    "precision": s.precision,
                }
                for t, s in self.types.items()
            },
            "decoys": {
                k: {"total": s.total, "kept": s.kept, "rate": s.rate} for k, s in sorted(self.decoys.items())
            },
            "checks": [
                {"name": c.name, "value": c.value, "target": c.target, "passed": c.passed}
                for c in self.checks()
            ],
            "passed": self.passed,
            "examples": self.examples,
        }


def _example(examples: dict[str, list[str]], key: str, limit: int, line: str) -> None:
    bucket = examples.setdefault(key, [])
    if len(bucket) < limit:
        bucket.append(line)


def evaluate(docs: Iterable[LabeledDoc], detect: Callable[[str], list[Span]], *, examples: int = 5) -> Report:
    """Run ``detect`` on every document and score it (see the module docstring for definitions)."""
    report = Report()
    for doc in docs:
        report.docs += 1
        report.chars += len(doc.text)
        detected = [(s.start, s.end, PiiType(s.type)) for s in detect(doc.text)]
        for gold in doc.spans:
            score = report.types[gold.type]
            score.gold += 1
            if any(t is gold.type and covers(s, e, gold) for s, e, t in detected):
                score.found += 1
            else:
                near = [
                    f"{t.value}:{doc.text[s:e]}"
                    for s, e, t in detected
                    if _overlaps(s, e, gold.start, gold.end)
                ]
                _example(
                    report.examples,
                    f"missed {gold.type.value}",
                    examples,
                    _context(doc.text, gold.start, gold.end) + (f"  (detected {near})" if near else ""),
                )
        for start, end, pii_type in detected:
            score = report.types[pii_type]
            score.detected += 1
            if any(g.type is pii_type and _overlaps(start, end, g.start, g.end) for g in doc.spans):
                score.correct += 1
            else:
                _example(report.examples, f"false {pii_type.value}", examples, _context(doc.text, start, end))
        for decoy in doc.decoys:
            score = report.decoys.setdefault(decoy.kind, DecoyScore())
            score.total += 1
            hits = [(s, e, t) for s, e, t in detected if _overlaps(s, e, decoy.start, decoy.end)]
            if not hits:
                score.kept += 1
            else:
                _example(
                    report.examples,
                    f"decoy {decoy.kind} hit",
                    examples,
                    _context(doc.text, decoy.start, decoy.end) + f"  (as {hits[0][2].value})",
                )
    return report


# --- after desensitization ---------------------------------------------------------------------


@dataclass
class LeakScore:
    gold: int = 0
    leaked: int = 0

    @property
    def removed(self) -> float | None:
        return (self.gold - self.leaked) / self.gold if self.gold else None


@dataclass
class DesensitizedReport:
    docs: int = 0
    types: dict[PiiType, LeakScore] = field(default_factory=lambda: {t: LeakScore() for t in PiiType})
    decoys: dict[str, DecoyScore] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def removed(self, types: Iterable[PiiType]) -> float | None:
        chosen = [self.types[t] for t in types]
        gold = sum(s.gold for s in chosen)
        return _rate(gold - sum(s.leaked for s in chosen), gold)

    @property
    def leaked(self) -> int:
        return sum(s.leaked for s in self.types.values())

    @property
    def decoys_intact(self) -> float | None:
        return _rate(sum(s.kept for s in self.decoys.values()), sum(s.total for s in self.decoys.values()))

    def checks(self) -> list[Check]:
        return [
            Check("structured removed", self.removed(STRUCTURED_TYPES), STRUCTURED_RECALL_TARGET),
            Check("person removed", self.removed([PiiType.PERSON]), NAMES_ADDRESSES_RECALL_TARGET),
            Check("address removed", self.removed([PiiType.ADDRESS]), NAMES_ADDRESSES_RECALL_TARGET),
            Check("decoys intact", self.decoys_intact, DECOYS_KEPT_TARGET),
        ]

    @property
    def passed(self) -> bool:
        return all(check.passed or check.value is None for check in self.checks())

    def to_dict(self) -> dict:
        return {
            "docs": self.docs,
            "leaked": self.leaked,
            "structured_removed": self.removed(STRUCTURED_TYPES),
            "decoys_intact": self.decoys_intact,
            "types": {
                t.value: {"gold": s.gold, "leaked": s.leaked, "removed": s.removed}
                for t, s in self.types.items()
            },
            "decoys": {
                k: {"total": s.total, "intact": s.kept, "rate": s.rate}
                for k, s in sorted(self.decoys.items())
            },
            "checks": [
                {"name": c.name, "value": c.value, "target": c.target, "passed": c.passed}
                for c in self.checks()
            ],
            "passed": self.passed,
            "examples": self.examples,
        }


def _leak_probe(doc: LabeledDoc, gold: GoldSpan) -> str:
    probe = doc.value(gold)
    if len(probe) < 2:
        probe = doc.text[gold.start : gold.end + 1]
    return probe


def _decoy_probe(doc: LabeledDoc, decoy: Decoy) -> str:
    """The decoy with the character of plain text (not gold, not another decoy) on each side, if any."""
    taken = [(g.start, g.end) for g in doc.spans] + [(d.start, d.end) for d in doc.decoys if d != decoy]

    def plain(i: int) -> bool:
        return 0 <= i < len(doc.text) and not any(s <= i < e for s, e in taken)

    start = decoy.start - 1 if plain(decoy.start - 1) else decoy.start
    end = decoy.end + 1 if plain(decoy.end) else decoy.end
    return doc.text[start:end]


def evaluate_desensitized(
    docs: Iterable[LabeledDoc], desensitize: Callable[[str], str], *, examples: int = 5
) -> DesensitizedReport:
    """Run ``desensitize`` on every document: no gold value may remain, every decoy must (see module doc)."""
    report = DesensitizedReport()
    for doc in docs:
        report.docs += 1
        output = desensitize(doc.text)
        probes = Counter(_leak_probe(doc, g) for g in doc.spans)
        leaked: dict[str, int] = {}
        for probe, n_gold in probes.items():
            expected = max(0, doc.text.count(probe) - n_gold)  # occurrences that are not gold
            leaked[probe] = min(n_gold, max(0, output.count(probe) - expected))
        for gold in doc.spans:
            score = report.types[gold.type]
            score.gold += 1
            probe = _leak_probe(doc, gold)
            if leaked[probe] > 0:
                leaked[probe] -= 1
                score.leaked += 1
                _example(
                    report.examples,
                    f"leaked {gold.type.value}",
                    examples,
                    _context(doc.text, gold.start, gold.end),
                )
        decoy_probes = Counter(_decoy_probe(doc, d) for d in doc.decoys)
        intact = {probe: min(n, output.count(probe)) for probe, n in decoy_probes.items()}
        for decoy in doc.decoys:
            score = report.decoys.setdefault(decoy.kind, DecoyScore())
            score.total += 1
            probe = _decoy_probe(doc, decoy)
            if intact[probe] > 0:
                intact[probe] -= 1
                score.kept += 1
            else:
                _example(
                    report.examples,
                    f"decoy {decoy.kind} changed",
                    examples,
                    _context(doc.text, decoy.start, decoy.end),
                )
    return report
