"""Benchmark: `stockade data desensitize` end to end, the command a user runs, on JSONL files.

Two files of alpaca records are written: "typical" (banking prose with some planted personal data:
each text is six plain paragraphs around one labelled document of the privacy corpus) and "dense"
(the labelled documents alone: personal data in every few lines). Each is desensitized by the real
CLI in a fresh workspace (`stockade data desensitize FILE --output OUT --workers N`, one process
per run, timed from the outside: start-up, dictionary loading, JSON parsing, scanning, replacing,
writing and the audit record included), with ``--workers 1`` (per core) and with every core.

Reference in the same run, on the same files: one plain regex pass (``re.compile(r"\\d+").findall``)
over every line, in this process — the floor cost of reading the text once in Python.

    python -m stockade.bench.desensitize_file [--mb 20] [--seed 0] [--repeats 2] [--kinds typical,dense]

The start-up of one CLI process (a one-record file) is measured too, and the per-worker rate
after it is reported beside the whole-process rate.

Prints JSON (one entry per file kind) and a summary line per kind.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stockade.bench.privacy import DILUTION, speed_texts

_DIGITS = re.compile(r"\d+")


def write_file(path: Path, megabytes: float, seed: int, *, dilution: int = DILUTION) -> int:
    texts, _ = speed_texts(megabytes, seed, dilution=dilution)
    with path.open("w", encoding="utf-8") as out:
        for index in range(0, len(texts) - 1, 2):
            record = {"instruction": "请总结以下内容", "input": texts[index], "output": texts[index + 1]}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path.stat().st_size


def _stockade(*args: str, workspace: Path) -> list[str]:
    return [sys.executable, "-m", "stockade", "--workspace", str(workspace), *args]


def make_workspace(folder: Path) -> Path:
    """A fresh workspace with its first admin logged in (``init`` does that)."""
    workspace = folder / "ws"
    password = folder / "admin.pw"
    password.write_text("bench-admin-password-0123456789\n")
    password.chmod(0o600)
    subprocess.run(
        _stockade("init", str(workspace), "--admin-name", "admin", "--admin-password-file", str(password),
                  workspace=workspace),
        check=True,
        capture_output=True,
    )  # fmt: skip
    return workspace


def cli_run(workspace: Path, source: Path, output: Path, workers: int) -> float:
    """Seconds for one `stockade data desensitize` process, from start to exit."""
    output.unlink(missing_ok=True)
    start = time.perf_counter()
    subprocess.run(
        _stockade("data", "desensitize", str(source), "--output", str(output), "--workers", str(workers),
                  workspace=workspace),
        check=True,
        capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - start


def regex_pass(source: Path) -> float:
    start = time.perf_counter()
    with source.open(encoding="utf-8") as handle:
        for line in handle:
            _DIGITS.findall(line)
    return time.perf_counter() - start


def git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20, help="Size of each file in MB.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=2, help="Runs of each configuration (best kept).")
    parser.add_argument("--kinds", default="typical,dense", help="typical, dense or both (comma-separated).")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = set(kinds) - {"typical", "dense"}
    if unknown:
        parser.error(f"unknown kinds {sorted(unknown)}; use typical and/or dense")
    folder = Path(tempfile.mkdtemp(prefix="stockade-desensitize-"))
    workspace = make_workspace(folder)
    cores = os.cpu_count() or 1
    # The fixed cost of one CLI process (interpreter, workspace, dictionaries) on a one-record file,
    # so that the per-megabyte rate can be told apart from start-up.
    tiny = folder / "one-record.jsonl"
    tiny.write_text(json.dumps({"instruction": "客户张伟，手机13812345678"}, ensure_ascii=False) + "\n")
    startup = min(cli_run(workspace, tiny, folder / "one-record.out.jsonl", 1) for _ in range(args.repeats))
    results = []
    for kind in kinds:
        source = folder / f"{kind}.jsonl"
        size = write_file(source, args.mb, args.seed, dilution=DILUTION if kind == "typical" else 0)
        one, every, regex = [], [], []
        for _ in range(args.repeats):  # interleaved, so drifts of the shared machine hit all three
            regex.append(regex_pass(source))
            one.append(cli_run(workspace, source, folder / f"{kind}.one.jsonl", 1))
            every.append(cli_run(workspace, source, folder / f"{kind}.all.jsonl", cores))
        identical = (folder / f"{kind}.one.jsonl").read_bytes() == (folder / f"{kind}.all.jsonl").read_bytes()
        mb = size / 1e6
        results.append(
            {
                "kind": kind,
                "file_mb": round(mb, 1),
                "one_worker_mb_per_s": round(mb / min(one), 2),
                "all_cores_mb_per_s": round(mb / min(every), 2),
                "workers": cores,
                "regex_pass_mb_per_s": round(mb / min(regex), 2),
                "ratio_to_regex_pass": round(min(regex) / min(one), 3),
                "one_worker_mb_per_s_after_startup": round(mb / max(1e-9, min(one) - startup), 2),
                "seconds_one_worker": [round(s, 2) for s in one],
                "outputs_identical": identical,
            }
        )
    summary = {
        "what": "stockade data desensitize (CLI process, default policy) on JSONL files",
        "cli_startup_seconds": round(startup, 2),
        "results": results,
        "revision": git_revision(),
        "machine": f"{cores} cores {platform.machine()}, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
    }
    print(json.dumps(summary, indent=2))
    for r in results:
        print(
            f"{r['kind']}: {r['file_mb']} MB, 1 worker {r['one_worker_mb_per_s']} MB/s, {cores} workers "
            f"{r['all_cores_mb_per_s']} MB/s; after the {startup:.2f} s start-up "
            f"{r['one_worker_mb_per_s_after_startup']} MB/s per worker; "
            f"\\d+ regex pass {r['regex_pass_mb_per_s']} MB/s; "
            f"identical output: {r['outputs_identical']}"
        )


if __name__ == "__main__":
    main()
