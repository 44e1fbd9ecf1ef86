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
        [--baseline OTHER/src]

The start-up of one CLI process (a one-record file) is measured too, and the per-worker rate
after it is reported beside the whole-process rate. Each run's CPU time (user + system of the
process and its workers) is measured beside its wall time: on a shared machine the CPU time of the
one-worker run is the steadier measure of the cost per core.

``--baseline DIR`` runs every one-worker configuration a second time with ``PYTHONPATH=DIR`` (the
``src`` folder of another revision, e.g. ``git archive`` of the starting one), interleaved with
this tree's runs and in a workspace of its own, and reports both per-core rates and their ratio.
Each revision has its own derived-data cache (``STOCKADE_CACHE_DIR`` beside its workspace, filled by
its first start-up probe, before any file is run), as an installation has.

Prints JSON (one entry per file kind) and a summary line per kind.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


def _env(pythonpath: Path | None, workspace: Path) -> dict[str, str]:
    """The environment of a CLI run: this one, with ``PYTHONPATH`` set to another source tree if
    given, and the derived-data cache of the revision (beside its workspace). Each revision keeps its
    own cache, as an installation does: two revisions that name a cache entry alike would otherwise
    replace each other's at every run, and both would rebuild their tables each time."""
    env = {**os.environ, "STOCKADE_CACHE_DIR": str(workspace.parent / "derived-cache")}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return env


def make_workspace(folder: Path, pythonpath: Path | None = None) -> Path:
    """A fresh workspace with its first admin logged in (``init`` does that)."""
    folder.mkdir(parents=True, exist_ok=True)
    workspace = folder / "ws"
    password = folder / "admin.pw"
    password.write_text("bench-admin-password-0123456789\n")
    password.chmod(0o600)
    subprocess.run(
        _stockade("init", str(workspace), "--admin-name", "admin", "--admin-password-file", str(password),
                  workspace=workspace),
        check=True,
        capture_output=True,
        env=_env(pythonpath, workspace),
    )  # fmt: skip
    return workspace


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli_run(
    workspace: Path, source: Path, output: Path, workers: int, pythonpath: Path | None = None
) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, its workers included) of one
    `stockade data desensitize` process, from start to exit."""
    output.unlink(missing_ok=True)
    cpu = _children_cpu()
    start = time.perf_counter()
    subprocess.run(
        _stockade("data", "desensitize", str(source), "--output", str(output), "--workers", str(workers),
                  workspace=workspace),
        check=True,
        capture_output=True,
        env=_env(pythonpath, workspace),
    )  # fmt: skip
    return time.perf_counter() - start, _children_cpu() - cpu


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


def _rates(mb: float, runs: list[tuple[float, float]], startup: tuple[float, float]) -> dict[str, Any]:
    """Per-core rates of one-worker runs: whole process, and after the start-up, by wall and CPU time."""
    wall = min(w for w, _ in runs)
    cpu = min(c for _, c in runs)

    def after(seconds: float, fixed: float) -> float | None:
        # None when the start-up measured more than the run (a loaded machine's wall time)
        return round(mb / (seconds - fixed), 2) if seconds > fixed else None

    return {
        "one_worker_mb_per_s": round(mb / wall, 2),
        "one_worker_mb_per_s_after_startup": after(wall, startup[0]),
        "one_worker_cpu_mb_per_s": round(mb / cpu, 2),
        "one_worker_cpu_mb_per_s_after_startup": after(cpu, startup[1]),
        "seconds_one_worker": [round(w, 2) for w, _ in runs],
        "cpu_seconds_one_worker": [round(c, 2) for _, c in runs],
    }


def _tiny_file(folder: Path) -> Path:
    tiny = folder / "one-record.jsonl"
    tiny.write_text(json.dumps({"instruction": "客户张伟，手机13812345678"}, ensure_ascii=False) + "\n")
    return tiny


def _startup_run(workspace: Path, folder: Path, pythonpath: Path | None) -> tuple[float, float]:
    """Wall and CPU seconds of one CLI process on a one-record file."""
    return cli_run(workspace, _tiny_file(folder), folder / "one-record.out.jsonl", 1, pythonpath)


def _best(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return min(w for w, _ in runs), min(c for _, c in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20, help="Size of each file in MB.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=2, help="Runs of each configuration (best kept).")
    parser.add_argument("--kinds", default="typical,dense", help="typical, dense or both (comma-separated).")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="Source folder (src/) of another revision: its one-worker runs interleave with this tree's.",
    )
    args = parser.parse_args()
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = set(kinds) - {"typical", "dense"}
    if unknown:
        parser.error(f"unknown kinds {sorted(unknown)}; use typical and/or dense")
    baseline = args.baseline.resolve() if args.baseline is not None else None
    if baseline is not None and not (baseline / "stockade" / "__init__.py").is_file():
        parser.error(f"--baseline {args.baseline}: no stockade package there; give a checkout's src/ folder")
    folder = Path(tempfile.mkdtemp(prefix="stockade-desensitize-"))
    workspace = make_workspace(folder)
    base_workspace = make_workspace(folder / "baseline", baseline) if baseline is not None else None
    cores = os.cpu_count() or 1
    # The fixed cost of one CLI process (interpreter, workspace, dictionaries) on a one-record file,
    # so that the per-megabyte rate can be told apart from start-up. Measured before the files and
    # again in every round (interleaved with the runs, as drifts of a shared machine are large);
    # the best of all of them is the start-up.
    starts: list[tuple[float, float]] = [_startup_run(workspace, folder, None)]
    base_starts: list[tuple[float, float]] = (
        [_startup_run(base_workspace, folder / "baseline", baseline)] if base_workspace else []
    )
    runs: dict[str, Any] = {}
    for kind in kinds:
        source = folder / f"{kind}.jsonl"
        size = write_file(source, args.mb, args.seed, dilution=DILUTION if kind == "typical" else 0)
        one, every, regex, base = [], [], [], []
        for _ in range(args.repeats):  # interleaved, so drifts of the shared machine hit all of them
            regex.append(regex_pass(source))
            starts.append(_startup_run(workspace, folder, None))
            one.append(cli_run(workspace, source, folder / f"{kind}.one.jsonl", 1))
            if base_workspace is not None:
                base_starts.append(_startup_run(base_workspace, folder / "baseline", baseline))
                base.append(cli_run(base_workspace, source, folder / f"{kind}.base.jsonl", 1, baseline))
            every.append(cli_run(workspace, source, folder / f"{kind}.all.jsonl", cores))
        runs[kind] = (size, one, every, regex, base)
    startup = _best(starts)
    base_startup = _best(base_starts) if base_starts else None
    results = []
    for kind in kinds:
        size, one, every, regex, base = runs[kind]
        identical = (folder / f"{kind}.one.jsonl").read_bytes() == (folder / f"{kind}.all.jsonl").read_bytes()
        mb = size / 1e6
        row: dict[str, Any] = {
            "kind": kind,
            "file_mb": round(mb, 1),
            **_rates(mb, one, startup),
            "all_cores_mb_per_s": round(mb / min(w for w, _ in every), 2),
            "workers": cores,
            "regex_pass_mb_per_s": round(mb / min(regex), 2),
            "ratio_to_regex_pass": round(min(regex) / min(w for w, _ in one), 3),
            "outputs_identical": identical,
        }
        if base_startup is not None:
            row["baseline"] = _rates(mb, base, base_startup)
            ours, theirs = (r["one_worker_cpu_mb_per_s_after_startup"] for r in (row, row["baseline"]))
            row["cpu_ratio_to_baseline_after_startup"] = round(ours / theirs, 3) if ours and theirs else None
            # the whole process, start-up included: the ratio that needs no start-up estimate
            row["cpu_ratio_to_baseline"] = round(
                row["one_worker_cpu_mb_per_s"] / row["baseline"]["one_worker_cpu_mb_per_s"], 3
            )
            row["output_identical_to_baseline"] = (folder / f"{kind}.one.jsonl").read_bytes() == (
                folder / f"{kind}.base.jsonl"
            ).read_bytes()
        results.append(row)
    summary = {
        "what": "stockade data desensitize (CLI process, default policy) on JSONL files",
        "cli_startup_seconds": round(startup[0], 2),
        "cli_startup_cpu_seconds": round(startup[1], 2),
        "results": results,
        "revision": git_revision(),
        "baseline": str(baseline) if baseline is not None else None,
        "baseline_cli_startup_cpu_seconds": round(base_startup[1], 2) if base_startup else None,
        "machine": f"{cores} cores {platform.machine()}, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
    }
    print(json.dumps(summary, indent=2))
    for r in results:
        line = (
            f"{r['kind']}: {r['file_mb']} MB, 1 worker {r['one_worker_mb_per_s']} MB/s, {cores} workers "
            f"{r['all_cores_mb_per_s']} MB/s; after the {startup[0]:.2f} s start-up "
            f"{r['one_worker_mb_per_s_after_startup']} MB/s per worker "
            f"(CPU time: {r['one_worker_cpu_mb_per_s_after_startup']} MB/s per core); "
            f"\\d+ regex pass {r['regex_pass_mb_per_s']} MB/s; "
            f"identical output: {r['outputs_identical']}"
        )
        if "baseline" in r:
            line += (
                f"; baseline {r['baseline']['one_worker_cpu_mb_per_s_after_startup']} MB/s per core "
                f"(CPU), ratio {r['cpu_ratio_to_baseline_after_startup']} "
                f"(whole process {r['cpu_ratio_to_baseline']}), "
                f"output identical to baseline: {r['output_identical_to_baseline']}"
            )
        print(line)


if __name__ == "__main__":
    main()
