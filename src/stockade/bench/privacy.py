"""Benchmark: accuracy and speed of the desensitization (脱敏) gate on the labeled corpus.

(a) Accuracy: ``detect_all`` from ``stockade.privacy.detectors`` on ``--docs`` generated documents
(``stockade.privacy.corpus``), scored per type against the targets — recall ≥ 99.5 % for every
structured type, ≥ 90 % for names and addresses, decoys kept ≥ 97 % — and, when
``stockade.privacy.engine`` offers ``desensitize_text`` (or else a ``PrivacyEngine`` built with the
default policy), the same corpus after desensitization (no gold value may remain, decoys must stay
verbatim).
(b) Speed, single process, on ``--mb`` MB (UTF-8) of generated Chinese text, twice: "dense" (the
labeled documents, personal data in every few lines) and "typical" (each labeled document diluted
with six paragraphs of plain banking prose): MB/s of the scan alone and of scan + desensitize.
Baseline, in the same run on the same texts: one compiled regex for runs of digits
(``re.compile(r"\\d+").findall``) over every text — the floor cost of looking at the text once.

    python -m stockade.bench.privacy [--docs 2000] [--seed 0] [--mb 5] [--strict]

Prints the accuracy table on stderr, then JSON and one summary line on stdout. ``--strict`` exits 1
when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import sys
import time
from collections.abc import Callable

from stockade.privacy.corpus import LabeledDoc, Report, evaluate, evaluate_desensitized, generate_corpus
from stockade.privacy.corpus.templates import FILLER

DILUTION = 6  # plain paragraphs per labeled document in the "typical" speed corpus


def load_detect() -> tuple[Callable[[str], list], str]:
    """The scan under test: ``detect_all`` with the built-in detectors."""
    from stockade.privacy.detectors import default_detectors, detect_all

    chosen = list(default_detectors())
    return (lambda text: detect_all(text, chosen)), "detect_all(default detectors)"


def load_desensitize() -> tuple[Callable[[str], str], str]:
    """Scan + desensitize: a ``PrivacyEngine`` with the default policy (every type replaced)."""
    from stockade.privacy.engine import PrivacyEngine
    from stockade.privacy.policy import PrivacyPolicy

    engine = PrivacyEngine(PrivacyPolicy(), b"stockade-bench-privacy-key-00000")
    return (lambda text: engine.desensitize(text)[0]), "PrivacyEngine(default policy).desensitize"


def speed_texts(megabytes: float, seed: int, *, dilution: int = 0) -> tuple[list[str], int]:
    """Texts until their UTF-8 size reaches ``megabytes`` MB; returns (texts, bytes).

    ``dilution=0``: the labeled documents themselves (every text full of personal data and decoys).
    ``dilution=k``: each text is ``k`` paragraphs of plain banking prose (``templates.FILLER``) with one
    labeled document among them, closer to what a training set looks like.
    """
    rng = random.Random(seed)  # noqa: S311 - synthetic data
    texts: list[str] = []
    size = 0
    target = int(megabytes * 1_000_000)
    batch = 0
    while size < target:
        for doc in generate_corpus(500, seed * 1_000_003 + batch):
            text = doc.text
            if dilution:
                paragraphs = ["".join(rng.choices(FILLER, k=rng.randint(3, 8))) for _ in range(dilution)]
                paragraphs.insert(rng.randint(0, dilution), text)
                text = "\n".join(paragraphs)
            texts.append(text)
            size += len(text.encode("utf-8"))
            if size >= target:
                break
        batch += 1
    return texts, size


def _timed(function: Callable[[str], object], texts: list[str]) -> float:
    function(texts[0])  # warm-up: lazy compilation, imports
    start = time.perf_counter()
    for text in texts:
        function(text)
    return time.perf_counter() - start


def _pct(value: float | None) -> str:
    return "   n/a" if value is None else f"{100 * value:6.2f}%"


def accuracy_table(report: Report) -> str:
    lines = [f"{'type':<18}{'gold':>7}{'found':>7}{'recall':>9}{'detected':>10}{'precision':>11}"]
    for pii_type, score in report.types.items():
        lines.append(
            f"{pii_type.value:<18}{score.gold:>7}{score.found:>7}{_pct(score.recall):>9}"
            f"{score.detected:>10}{_pct(score.precision):>11}"
        )
    lines.append("")
    lines.append(f"{'decoy kind':<18}{'total':>7}{'kept':>7}{'rate':>9}")
    for kind, decoy in sorted(report.decoys.items()):
        lines.append(f"{kind:<18}{decoy.total:>7}{decoy.kept:>7}{_pct(decoy.rate):>9}")
    lines.append("")
    lines.append(f"{'target':<32}{'value':>9}{'needed':>9}  result")
    for check in report.checks():
        verdict = "PASS" if check.passed else "FAIL"
        lines.append(
            f"{check.name:<32}{_pct(check.value):>9}{'≥' + _pct(check.target).strip():>9}  {verdict}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000, help="documents for the accuracy part")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mb", type=float, default=5.0, help="MB of text for the speed part")
    parser.add_argument("--examples", type=int, default=3, help="misses/false positives shown per kind")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    result: dict = {
        "what": "desensitization gate: accuracy on the labeled corpus, scan speed",
        "docs": args.docs,
        "seed": args.seed,
        "machine": f"{os.cpu_count()} cores {platform.machine()}, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "notes": [],
    }
    detect, _ = load_detect()
    desensitize, what = load_desensitize()
    result["desensitizer"] = what

    docs: list[LabeledDoc] = list(generate_corpus(args.docs, args.seed))
    report = evaluate(docs, detect, examples=args.examples)
    print(accuracy_table(report), file=sys.stderr)
    result["accuracy"] = report.to_dict()
    after = evaluate_desensitized(docs, desensitize, examples=args.examples)
    result["desensitized"] = after.to_dict()
    for check in after.checks():
        verdict = "PASS" if check.passed else "FAIL"
        print(f"after desensitize: {check.name:<22}{_pct(check.value):>9}  {verdict}", file=sys.stderr)

    digits = re.compile(r"\d+")
    speed: dict = {}
    for corpus_name, dilution in (("dense", 0), ("typical", DILUTION)):
        texts, size = speed_texts(args.mb, args.seed + 1, dilution=dilution)
        mb = size / 1_000_000
        baseline_s = _timed(digits.findall, texts)
        scan_s = _timed(detect, texts)
        row: dict = {
            "bytes": size,
            "texts": len(texts),
            "baseline_digit_regex": {"seconds": round(baseline_s, 3), "mb_per_s": round(mb / baseline_s, 2)},
            "scan": {"seconds": round(scan_s, 3), "mb_per_s": round(mb / scan_s, 2)},
            "scan_over_baseline_time": round(scan_s / baseline_s, 1),
        }
        full_s = _timed(desensitize, texts)
        row["scan_desensitize"] = {"seconds": round(full_s, 3), "mb_per_s": round(mb / full_s, 2)}
        speed[corpus_name] = row
    result["speed"] = speed
    result["passed"] = report.passed and ("desensitized" not in result or result["desensitized"]["passed"])
    print(json.dumps(result, indent=2, ensure_ascii=False))
    failed = [c.name for c in report.checks() if not c.passed]
    verdict = "PASS" if report.passed else "FAIL: " + ", ".join(failed)

    def rates(row: dict) -> str:
        full = (
            f", scan+desensitize {row['scan_desensitize']['mb_per_s']}" if "scan_desensitize" in row else ""
        )
        return (
            f"scan {row['scan']['mb_per_s']}{full} vs baseline {row['baseline_digit_regex']['mb_per_s']} MB/s"
        )

    print(
        f"structured recall {_pct(report.structured_recall).strip()}, names/addresses "
        f"{_pct(report.names_addresses_recall).strip()}, decoys kept {_pct(report.decoys_kept).strip()} "
        f"({verdict}); dense text: {rates(speed['dense'])}; typical text: {rates(speed['typical'])} "
        f"({args.mb:g} MB each, 1 process)"
    )
    return 1 if args.strict and not result["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
