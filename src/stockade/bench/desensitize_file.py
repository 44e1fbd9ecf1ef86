"""Benchmark: `data desensitize` throughput on a large JSONL file, one process vs every core.

The file holds alpaca records whose texts are the privacy benchmark's "typical" texts (banking
prose with planted personal data). The same file is desensitized with ``workers=1`` (the baseline,
same run) and with ``workers=os.cpu_count()``; the ratio is the multi-core speed-up.

    python -m stockade.bench.desensitize_file [--mb 40] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from stockade.bench.privacy import DILUTION, speed_texts
from stockade.privacy.engine import PrivacyEngine
from stockade.privacy.files import process_file
from stockade.privacy.policy import PrivacyPolicy


def write_file(path: Path, megabytes: float, seed: int) -> int:
    texts, _ = speed_texts(megabytes, seed, dilution=DILUTION)
    with path.open("w", encoding="utf-8") as out:
        for index in range(0, len(texts) - 1, 2):
            record = {"instruction": "请总结以下内容", "input": texts[index], "output": texts[index + 1]}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path.stat().st_size


def timed_run(source: Path, output: Path, workers: int) -> tuple[float, int]:
    engine = PrivacyEngine(PrivacyPolicy(), secret=b"benchmark-key-0123456789abcdef01")
    start = time.perf_counter()
    report = process_file("raw", source, engine, output=output, workers=workers)
    return time.perf_counter() - start, report.total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="stockade-desensitize-"))
    source = folder / "corpus.jsonl"
    size = write_file(source, args.mb, args.seed)
    cores = os.cpu_count() or 1
    one_seconds, one_findings = timed_run(source, folder / "one.jsonl", 1)
    all_seconds, all_findings = timed_run(source, folder / "all.jsonl", cores)
    identical = (folder / "one.jsonl").read_bytes() == (folder / "all.jsonl").read_bytes()
    result = {
        "what": "data desensitize of a JSONL file (scan + replace, default policy)",
        "file_mb": round(size / 1e6, 1),
        "one_process": {"seconds": round(one_seconds, 2), "mb_per_s": round(size / 1e6 / one_seconds, 2)},
        "all_cores": {
            "workers": cores,
            "seconds": round(all_seconds, 2),
            "mb_per_s": round(size / 1e6 / all_seconds, 2),
        },
        "speedup": round(one_seconds / all_seconds, 2),
        "findings": all_findings,
        "outputs_identical": identical and one_findings == all_findings,
        "machine": f"{cores} cores {platform.machine()}, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
    }
    print(json.dumps(result, indent=2))
    print(
        f"{result['file_mb']} MB: 1 process {result['one_process']['mb_per_s']} MB/s, {cores} processes "
        f"{result['all_cores']['mb_per_s']} MB/s (x{result['speedup']}), identical output: {identical}"
    )


if __name__ == "__main__":
    main()
