"""Benchmark: recall of the 脱敏 detectors on the realistic corpus of hard surface forms, per form.

Runs ``stockade.privacy.detectors.detect_all`` over ``--records`` records of
:func:`stockade.privacy.corpus.realistic.generate_realistic` (call-centre transcripts, complaint
tickets, loan/KYC notes, bilingual wire instructions, e-mails, IM chats, clean records) and scores it
with :func:`~stockade.privacy.corpus.realistic.score_realistic`: recall per type, per ``type/form``
and per category, decoys kept, clean records unchanged. Then desensitizes every record with
``PrivacyEngine(PrivacyPolicy(), key).desensitize`` and counts gold values left verbatim in the output.

Targets: structured ≥ 99.5 %, person_zh ≥ 95 %, person_romanised ≥ 90 %, address ≥ 95 %, decoys kept
≥ 98 %, clean records unchanged ≥ 99 %.

    python -m stockade.bench.privacy_realistic --records 1500 --seed 7 [--show-misses N] [--json] [--strict]

Prints the table on stderr and JSON on stdout (``--json``: only the JSON, no table). ``--strict``
exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from stockade.privacy.corpus.realistic import (
    check_targets,
    generate_realistic,
    score_desensitized,
    score_realistic,
)

KEY = b"stockade-bench-privacy-realistic"


def git_revision() -> str | None:
    """``git rev-parse --short HEAD`` of the source tree, or None where git or the repository is missing."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _pct(value: float | None) -> str:
    return "    n/a" if value is None else f"{100 * value:6.2f}%"


def render_table(result: dict[str, Any], show_misses: int) -> str:
    """The human-readable report: categories, targets, types, forms, decoys, leaks, examples."""
    score = result["detect"]
    lines = [f"{'category':<34}{'gold':>7}{'found':>7}{'recall':>9}"]
    for name, row in score["categories"].items():
        lines.append(f"{name:<34}{row['gold']:>7}{row['found']:>7}{_pct(row['recall']):>9}")
    lines += ["", f"{'target':<34}{'value':>9}{'needed':>9}  result"]
    for name, value, target, passed in check_targets(score):
        lines.append(
            f"{name:<34}{_pct(value):>9}{'≥' + _pct(target).strip():>9}  {'PASS' if passed else 'FAIL'}"
        )
    lines += ["", f"{'type':<34}{'gold':>7}{'found':>7}{'recall':>9}"]
    for name, row in score["types"].items():
        lines.append(f"{name:<34}{row['gold']:>7}{row['found']:>7}{_pct(row['recall']):>9}")
    lines += ["", f"{'type/form':<34}{'gold':>7}{'found':>7}{'recall':>9}"]
    for name, row in score["forms"].items():
        lines.append(f"{name:<34}{row['gold']:>7}{row['found']:>7}{_pct(row['recall']):>9}")
    lines += ["", f"{'decoy kind':<34}{'total':>7}{'kept':>7}{'rate':>9}"]
    for name, row in score["decoys"]["kinds"].items():
        lines.append(f"{name:<34}{row['total']:>7}{row['kept']:>7}{_pct(row['rate']):>9}")
    clean = score["clean"]
    lines.append(
        f"{'clean records unchanged':<34}{clean['total']:>7}{clean['unchanged']:>7}{_pct(clean['rate']):>9}"
    )
    lines.append(f"spans over neither gold nor decoy: {score['spurious_spans']}")
    after = result["desensitized"]
    lines += ["", f"{'after desensitize: leaked':<34}{'gold':>7}{'leaked':>7}{'rate':>9}"]
    for name, row in after["leaked"].items():
        lines.append(f"{name:<34}{row['gold']:>7}{row['leaked']:>7}{_pct(row['rate']):>9}")
    verbatim = after["decoys_verbatim"]
    lines.append(
        f"{'decoys verbatim':<34}{verbatim['total']:>7}{verbatim['kept']:>7}{_pct(verbatim['rate']):>9}"
    )
    if show_misses and "examples" in score:
        examples = score["examples"]
        lines += ["", "missed values (per form):"]
        for form, rows in sorted(examples["missed"].items()):
            for row in rows:
                found = f"  ← {', '.join(row['detected'])}" if row["detected"] else ""
                lines.append(f"  {form:<30} {row['context']}{found}")
        lines += ["", "decoys lost:"]
        for kind, rows in sorted(examples["decoys_lost"].items()):
            lines += [f"  {kind:<14} {row}" for row in rows]
        lines += ["", "spurious spans:"]
        lines += [f"  {row}" for row in examples["spurious"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--show-misses", type=int, default=0, metavar="N", help="N missed values per form")
    parser.add_argument("--json", action="store_true", help="JSON on stdout only, no table on stderr")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    from stockade.privacy.detectors import default_detectors, detect_all
    from stockade.privacy.engine import PrivacyEngine
    from stockade.privacy.policy import PrivacyPolicy

    detectors = list(default_detectors())
    engine = PrivacyEngine(PrivacyPolicy(), KEY)
    records = generate_realistic(args.records, args.seed)
    started = time.perf_counter()
    score = score_realistic(records, lambda text: detect_all(text, detectors), misses=args.show_misses)
    scan_s = time.perf_counter() - started
    after = score_desensitized(records, lambda text: engine.desensitize(text)[0], misses=args.show_misses)
    checks = check_targets(score)
    result: dict[str, Any] = {
        "what": "privacy detectors on the realistic corpus (hard surface forms), recall per form",
        "records": args.records,
        "seed": args.seed,
        "git_revision": git_revision(),
        "machine": f"{platform.node()}: {os.cpu_count()} cores {platform.machine()}, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "scan_seconds": round(scan_s, 3),
        "targets": {
            name: {"value": value, "target": target, "passed": ok} for name, value, target, ok in checks
        },
        "passed": all(ok for *_, ok in checks),
        "detect": score,
        "desensitized": after,
    }
    if not args.json:
        print(render_table(result, args.show_misses), file=sys.stderr)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 1 if args.strict and not result["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
