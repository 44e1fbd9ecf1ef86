"""Scan reports: counts by type × field, masked samples (never a raw value), and where they came from.

Rendered as a terminal table (by the CLI), JSON, and a self-contained HTML page (no external
assets, so it opens on an air-gapped machine and can be attached to an approval).

Types are counted by name, built-in (``id_card``) and a policy's custom ones (``customer_no``)
alike; ``labels`` keeps the label of each custom type found, for the HTML page.
"""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from stockade.privacy.spans import LABELS, CustomType, PiiType, Span, SpanType

SAMPLES_PER_TYPE = 3

#: ``type_name`` of a span's type, as one C call: a ``PiiType`` or ``CustomType`` is a ``str``
#: whose characters are its name (``add`` runs once per span found).
_name = str.__str__


def masked_sample(value: str, pii_type: SpanType | str) -> str:
    """A hint of the shape of a value that can never reveal it: at most a quarter of it is shown."""
    compact = value.strip()
    if pii_type == PiiType.PERSON:
        return compact[:1] + "*" * max(1, len(compact) - 1)
    if pii_type == PiiType.ADDRESS:
        return compact[:3] + "…"
    shown = len(compact) // 8  # at most 1/8 at each end
    if shown == 0:
        return "*" * len(compact)
    return compact[:shown] + "*" * (len(compact) - 2 * shown) + compact[-shown:]


@dataclass
class ScanReport:
    policy: str = "default"
    policy_sha256: str = ""
    mode: str = "desensitize"
    detectors: dict[str, str] = field(default_factory=dict)
    operators: dict[str, str] = field(default_factory=dict)
    strings: int = 0
    strings_with_pii: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    samples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    labels: dict[str, str] = field(default_factory=dict)

    def add(self, text: str, spans: list[Span], field_name: str) -> None:
        self.strings += 1
        if not spans:
            return
        self.strings_with_pii += 1
        counts, samples = self.counts, self.samples
        for start, end, pii_type, _, _ in spans:
            kind = _name(pii_type)
            counts[kind][field_name] += 1
            kept = samples[kind]
            if len(kept) < SAMPLES_PER_TYPE:
                kept.append(masked_sample(text[start:end], pii_type))
            if isinstance(pii_type, CustomType):
                self.labels[kind] = pii_type.label

    def merge(self, other: ScanReport) -> None:
        self.strings += other.strings
        self.strings_with_pii += other.strings_with_pii
        for kind, fields in other.counts.items():
            for field_name, count in fields.items():
                self.counts[kind][field_name] += count
        for kind, samples in other.samples.items():
            room = SAMPLES_PER_TYPE - len(self.samples[kind])
            self.samples[kind].extend(samples[: max(room, 0)])
        self.labels.update(other.labels)

    @property
    def total(self) -> int:
        return sum(sum(fields.values()) for fields in self.counts.values())

    def by_type(self) -> dict[str, int]:
        return {kind: sum(fields.values()) for kind, fields in sorted(self.counts.items())}

    def fields(self) -> list[str]:
        return sorted({name for fields in self.counts.values() for name in fields})

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "policy_sha256": self.policy_sha256,
            "mode": self.mode,
            "detectors": self.detectors,
            "operators": self.operators,
            "strings": self.strings,
            "strings_with_pii": self.strings_with_pii,
            "total": self.total,
            "by_type": self.by_type(),
            "counts": {kind: dict(sorted(fields.items())) for kind, fields in sorted(self.counts.items())},
            "samples": {kind: list(values) for kind, values in sorted(self.samples.items())},
            "labels": dict(sorted(self.labels.items())),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanReport:
        report = cls(
            policy=data["policy"],
            policy_sha256=data["policy_sha256"],
            mode=data["mode"],
            detectors=data["detectors"],
            operators=data["operators"],
            strings=data["strings"],
            strings_with_pii=data["strings_with_pii"],
            labels=dict(data.get("labels", {})),  # absent from reports written before custom types
        )
        for kind, fields in data["counts"].items():
            for field_name, count in fields.items():
                report.counts[kind][field_name] = count
        for kind, values in data["samples"].items():
            report.samples[kind] = list(values)
        return report


def _label(report: ScanReport, kind: str) -> str:
    if kind in report.labels:
        return report.labels[kind]
    try:
        return LABELS[PiiType(kind)]
    except ValueError:  # a custom type of a report that kept no label
        return kind


def render_html(report: ScanReport, *, title: str) -> str:
    """A self-contained HTML page of the report (inline CSS, no scripts, no external links)."""
    fields = report.fields()
    esc = html.escape
    header = "".join(f"<th>{esc(name)}</th>" for name in fields)
    rows = []
    for kind, total in report.by_type().items():
        label = _label(report, kind)
        cells = "".join(f"<td>{report.counts[kind].get(name, 0)}</td>" for name in fields)
        samples = ", ".join(esc(sample) for sample in report.samples.get(kind, []))
        rows.append(
            f"<tr><td>{esc(kind)} ({esc(label)})</td>{cells}<td>{total}</td><td>{samples}</td>"
            f"<td>{esc(report.operators.get(kind, ''))}</td></tr>"
        )
    detectors = ", ".join(f"{esc(n)} {esc(v)}" for n, v in sorted(report.detectors.items()))
    body = "".join(rows) or f"<tr><td colspan='{len(fields) + 4}'>no personal data found</td></tr>"
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:4px 8px;text-align:left}}th{{background:#eee}}</style></head>
<body><h1>{esc(title)}</h1>
<p>Policy <b>{esc(report.policy)}</b> (sha256 {esc(report.policy_sha256[:16])}…), gate mode
<b>{esc(report.mode)}</b>. Strings scanned: {report.strings}; with personal data:
{report.strings_with_pii}; findings: {report.total}.</p>
<p>Detectors: {detectors}</p>
<table><tr><th>type</th>{header}<th>total</th><th>masked samples</th><th>operator</th></tr>{body}</table>
<p>Samples are masked: no raw value appears in this report.</p></body></html>
"""
