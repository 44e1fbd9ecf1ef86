"""Benchmark: `stockade data import` of a large generated JSONL, peak RSS and rows/s.

Baseline, measured in the same run on the same file: the naive importer — ``json.loads`` of every
line into one Python list, then validation — which is what reading a dataset "the simple way"
costs in memory. Each side runs in its own process; peak RSS is that process's ``ru_maxrss``.

    python -m stockade.bench.data_import --size-mb 1024 [--workdir DIR] [--skip-baseline]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOPICS = [
    "债券违约风险",
    "信用卡分期",
    "理财产品风险等级",
    "反洗钱客户尽调",
    "个人住房贷款",
    "外汇结算",
    "资产负债管理",
]


def generate(path: Path, size_bytes: int, seed: int = 0) -> int:
    """Alpaca records in Chinese of varied length; returns the number of records written."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data
    rows = 0
    with path.open("w", encoding="utf-8") as out:
        while out.tell() < size_bytes:
            topic = rng.choice(TOPICS)
            record = {
                "instruction": f"请解释{topic}的主要影响因素，并给出第{rows}号案例的分析。",
                "input": "客户画像：" + "，".join(rng.choice(TOPICS) for _ in range(rng.randint(1, 6))),
                "output": ("根据评估标准，" + topic + "需要关注流动性、期限错配与合规要求。")
                * rng.randint(1, 8),
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            rows += 1
    return rows


NAIVE = """
import json, sys, time
from stockade.data.records import Conversation
start = time.perf_counter()
with open(sys.argv[1], encoding="utf-8") as f:
    rows = [json.loads(line) for line in f]
valid = 0
for r in rows:
    user = r["instruction"] + ("\\n" + r["input"] if r["input"] else "")
    Conversation(messages=[{"role": "user", "content": user}, {"role": "assistant", "content": r["output"]}])
    valid += 1
print(json.dumps({"rows": valid, "seconds": time.perf_counter() - start}))
"""


def _run_measured(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run a child process; return (seconds, peak RSS in bytes, stdout)."""
    start = time.perf_counter()
    child = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    stdout, stderr = child.stdout.read(), child.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{args[:4]} failed:\n{stderr[-3000:]}")
    return seconds, usage.ru_maxrss * 1024, stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="stockade-bench-"))
    source = workdir / "big.jsonl"
    rows = generate(source, args.size_mb * 1024 * 1024)
    size = source.stat().st_size
    env = {k: v for k, v in os.environ.items() if k != "STOCKADE_HOME"}
    cli = [sys.executable, "-m", "stockade", "-w", str(workdir / "ws")]
    subprocess.run([*cli, "init"], env=env, check=True, capture_output=True)
    seconds, rss, _ = _run_measured([*cli, "data", "import", str(source), "--name", "big"], env)
    result = {
        "what": "data import of a generated alpaca JSONL",
        "file_bytes": size,
        "rows": rows,
        "stockade": {
            "seconds": round(seconds, 1),
            "peak_rss_mb": round(rss / 2**20, 1),
            "rows_per_s": round(rows / seconds),
        },
        "machine": f"{os.cpu_count()} cores {platform.machine()}, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
    }
    if not args.skip_baseline:
        b_seconds, b_rss, _ = _run_measured([sys.executable, "-c", NAIVE, str(source)], env)
        result["baseline_naive_load_all"] = {
            "seconds": round(b_seconds, 1),
            "peak_rss_mb": round(b_rss / 2**20, 1),
            "rows_per_s": round(rows / b_seconds),
        }
        result["rss_ratio_baseline_over_stockade"] = round(b_rss / rss, 1)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print(
        f"peak RSS {result['stockade']['peak_rss_mb']} MB for {size / 2**30:.2f} GiB, "
        f"{result['stockade']['rows_per_s']:,} rows/s"
    )


if __name__ == "__main__":
    main()
