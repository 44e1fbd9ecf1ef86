"""CPU serving against LLaMA-Factory's API on the same tiny model (issue 18, item 9).

    python -m stockade.bench.serve_llamafactory --llamafactory /tmp/lf-venv/bin/llamafactory-cli
    python -m stockade.bench.serve_llamafactory --requests 4 --concurrency 2   # Stockade alone

In a temporary folder: a workspace, a tiny Qwen2 model (``stockade dev tiny-model --arch qwen2``'s builder)
and one API key. Both servers load that same folder with the same chat template (``qwen``, the tiny
qwen2's own), in float32, and are driven the same way over loopback HTTP:

* **Stockade**: the real ``stockade serve --dev`` process a user runs (hf engine, its defaults). The
  workspace's ``security:`` limits are raised (``rate_per_credential``/``burst_per_credential`` and the
  per-address pair) so that the token buckets do not throttle the benchmark credential: this measures
  throughput, not the limiter. Everything else (authentication, audit, access log) stays on.
* **LLaMA-Factory** (with ``--llamafactory CLI``): ``llamafactory-cli api CONFIG.yaml`` with
  ``infer_backend: huggingface`` and ``infer_dtype: float32``, on 127.0.0.1 (``API_HOST``/``API_PORT``)
  with ``API_KEY`` set, offline (``HF_HUB_OFFLINE``).

The client (this process, asyncio + httpx) sends ``--requests`` non-streamed ``/v1/chat/completions``
calls with ``--concurrency`` workers in a closed loop, ``max_tokens`` = ``--max-tokens``, greedy
(``temperature: 0``; LLaMA-Factory turns that into ``do_sample=False``). The same prompts (``--seed``)
go to both, the same request body. Rounds are interleaved (Stockade, LLaMA-Factory, then the other
order), after ``--warmup`` requests each (default 2 per worker). Output tokens are the servers' own
``usage.completion_tokens``; a request that does not answer 200 with a choice counts as failed.
Reported per server: output tokens/s (median over rounds and each round), the server process's CPU
seconds (/proc) and output tokens per CPU second, latency p50/p99; the ratio Stockade / LLaMA-Factory
of the medians; and how many answers were identical text (same weights, template and greedy decoding:
a correctness signal, not a goal). LLaMA-Factory runs with its defaults otherwise: its hf engine
answers ``MAX_CONCURRENT`` (default 1) requests at a time, each with its own ``model.generate``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from stockade.bench.serve_attack import cpu_seconds, percentile
from stockade.core import offline

ARCH = "qwen2"
TEMPLATE = "qwen"  # the tiny qwen2's template in Stockade and LLaMA-Factory's name for the same format
LF_TOKEN = "lf-bench-key"  # noqa: S105 - a loopback server that lives for this run only
RAISED_LIMITS = {
    "rate_per_credential": 100000.0,
    "burst_per_credential": 100000,
    "rate_per_address": 100000.0,
    "burst_per_address": 100000,
}
TOPICS = ["债券违约风险", "贷款信用评估", "反洗钱可疑交易", "利率风险敞口", "客户投诉处理", "流动性覆盖率"]
ASKS = ["请简要解释", "用三句话说明", "列出要点:", "Explain briefly:", "Summarise the risk of"]
DETAILS = ["对中小企业客户", "在压力测试情景下", "for a retail customer", "under Basel III", "按监管要求"]


def make_prompts(count: int, seed: int) -> list[str]:
    """``count`` short chat prompts, the same for a given seed."""
    rng = random.Random(seed)  # noqa: S311 - reproducible benchmark data
    return [
        f"{rng.choice(ASKS)} {rng.choice(TOPICS)} {rng.choice(DETAILS)} (#{rng.randrange(1000)})"
        for _ in range(count)
    ]


def prepare(folder: Path) -> tuple[Path, Path, str]:
    """A workspace with raised rate limits, the tiny model and an API key for the benchmark."""
    from stockade.models.tiny import build_tiny_model
    from stockade.security.service import issue_credential
    from stockade.workspace.service import initialize_workspace, open_workspace

    workspace = folder / "workspace"
    initialize_workspace(workspace)
    settings = workspace / "stockade.yaml"
    lines = ["", "security:", *(f"  {key}: {value}" for key, value in RAISED_LIMITS.items()), ""]
    settings.write_text(settings.read_text(encoding="utf-8") + "\n".join(lines), encoding="utf-8")
    model = build_tiny_model(ARCH, folder / ARCH).path
    with open_workspace(workspace) as context:
        limits = context.workspace.settings.security
        if limits.rate_per_credential != RAISED_LIMITS["rate_per_credential"]:
            raise RuntimeError("the raised rate limit did not reach the workspace settings")
        token = issue_credential(context, kind="api_key", subject=context.actor.name, roles=["admin"]).token
    return workspace, model, token


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(url: str, token: str, process: subprocess.Popen, log: Path, timeout: float = 300) -> str:
    """Poll ``/v1/models`` until it answers; returns the first model id."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}): {log.read_text()[-3000:]}")
        try:
            answer = httpx.get(
                f"{url}/v1/models", headers={"Authorization": f"Bearer {token}"}, timeout=5, trust_env=False
            )
            if answer.status_code == 200:
                return str(answer.json()["data"][0]["id"])
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"the server did not answer in {timeout:.0f} s: {log.read_text()[-3000:]}")


def start_stockade(workspace: Path, model: Path, folder: Path) -> tuple[subprocess.Popen, str, Path]:
    """``stockade serve --dev`` on a free port of 127.0.0.1, its output to a file (never a full pipe)."""
    port = free_port()
    command = [sys.executable, "-m", "stockade", "-w", str(workspace), "serve", "--dev"]
    command += ["--model_name_or_path", str(model), "--port", str(port)]
    log = folder / "stockade.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}", log


def start_llamafactory(cli: str, model: Path, folder: Path) -> tuple[subprocess.Popen, str, Path]:
    """``llamafactory-cli api`` on a free port of 127.0.0.1 with the tiny model, offline."""
    config = folder / "llamafactory.yaml"
    config.write_text(
        f"model_name_or_path: {model}\ntemplate: {TEMPLATE}\ninfer_backend: huggingface\n"
        "infer_dtype: float32\n",
        encoding="utf-8",
    )
    port = free_port()
    env = {
        **os.environ,
        "API_HOST": "127.0.0.1",
        "API_PORT": str(port),
        "API_KEY": LF_TOKEN,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "DISABLE_VERSION_CHECK": "1",
    }
    env.pop("PYTHONPATH", None)  # its own venv, not Stockade's sources
    log = folder / "llamafactory.log"
    with log.open("wb") as out:
        process = subprocess.Popen([cli, "api", str(config)], env=env, stdout=out, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}", log


async def drive(
    url: str, token: str, model: str, prompts: list[str], concurrency: int, max_tokens: int
) -> dict[str, Any]:
    """``prompts`` as non-streamed chat calls, ``concurrency`` workers in a closed loop."""
    import httpx

    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(prompts)):
        queue.put_nowait(index)
    answers: list[str | None] = [None] * len(prompts)
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    output_tokens = prompt_tokens = 0
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal output_tokens, prompt_tokens
        while not queue.empty():
            index = queue.get_nowait()
            body = {
                "model": model,
                "messages": [{"role": "user", "content": prompts[index]}],
                "max_tokens": max_tokens,
                "temperature": 0,
                "stream": False,
            }
            started = time.perf_counter()
            try:
                response = await client.post(f"{url}/v1/chat/completions", json=body, headers=headers)
            except httpx.HTTPError as exc:
                statuses[exc.__class__.__name__] += 1
                continue
            elapsed = time.perf_counter() - started
            statuses[str(response.status_code)] += 1
            if response.status_code != 200:
                continue
            data = response.json()
            choices = data.get("choices") or []
            if not choices or choices[0].get("message", {}).get("content") is None:
                statuses["no_choice"] += 1
                continue
            answers[index] = choices[0]["message"]["content"]
            output_tokens += int(data["usage"]["completion_tokens"])
            prompt_tokens += int(data["usage"]["prompt_tokens"])
            latencies.append(elapsed)

    async with httpx.AsyncClient(timeout=600, limits=limits, trust_env=False) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    ok = sum(answer is not None for answer in answers)
    return {
        "requests": len(prompts),
        "ok": ok,
        "failed": len(prompts) - ok,
        "statuses": dict(statuses),
        "output_tokens": output_tokens,
        "prompt_tokens": prompt_tokens,
        "seconds": round(seconds, 3),
        "output_tokens_per_s": round(output_tokens / seconds, 1) if seconds else 0.0,
        "latency_ms_p50": round(percentile(latencies, 50) * 1000, 1) if latencies else None,
        "latency_ms_p99": round(percentile(latencies, 99) * 1000, 1) if latencies else None,
        "answers": answers,
    }


class Server:
    """One running server: its address, credential, model id and process (for CPU seconds)."""

    def __init__(self, name: str, process: subprocess.Popen, url: str, token: str, model: str) -> None:
        self.name, self.process, self.url, self.token, self.model = name, process, url, token, model
        self.rounds: list[dict[str, Any]] = []

    def run(self, prompts: list[str], args: argparse.Namespace) -> dict[str, Any]:
        cpu = cpu_seconds(self.process.pid)
        result = asyncio.run(
            drive(self.url, self.token, self.model, prompts, args.concurrency, args.max_tokens)
        )
        result["server_cpu_s"] = round(cpu_seconds(self.process.pid) - cpu, 2)
        result["output_tokens_per_cpu_s"] = (
            round(result["output_tokens"] / result["server_cpu_s"], 1) if result["server_cpu_s"] else None
        )
        return result

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "output_tokens_per_s": round(statistics.median(r["output_tokens_per_s"] for r in rounds), 1),
        "output_tokens_per_cpu_s": round(
            statistics.median(r["output_tokens_per_cpu_s"] or 0.0 for r in rounds), 1
        ),
        "failed": sum(r["failed"] for r in rounds),
        "rounds": [{k: v for k, v in r.items() if k != "answers"} for r in rounds],
    }


def revision() -> str:
    root = Path(__file__).resolve().parents[3]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} + working tree" if dirty else head


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs"


def progress(message: str) -> None:
    print(f"[lf bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    prompts = make_prompts(args.requests, args.seed)
    warmup = make_prompts(args.warmup, args.seed + 1)
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="stockade-lf-bench-") as tmp:
        folder = Path(tmp)
        try:
            workspace, model, token = prepare(folder)
            progress(f"tiny {ARCH} model in {model}; starting stockade serve")
            process, url, log = start_stockade(workspace, model, folder)
            servers.append(Server("stockade", process, url, token, ""))
            servers[0].model = wait_ready(url, token, process, log)
            if args.llamafactory:
                progress("starting llamafactory-cli api")
                process, url, log = start_llamafactory(args.llamafactory, model, folder)
                servers.append(Server("llamafactory", process, url, LF_TOKEN, ""))
                servers[1].model = wait_ready(url, LF_TOKEN, process, log)
            for server in servers:
                if warmup:
                    server.run(warmup, args)
            for number in range(args.rounds):
                order = servers if number % 2 == 0 else servers[::-1]
                for server in order:
                    result = server.run(prompts, args)
                    progress(
                        f"round {number + 1} {server.name}: {result['output_tokens_per_s']} tok/s, "
                        f"{result['failed']} failed, server CPU {result['server_cpu_s']} s"
                    )
                    server.rounds.append(result)
        finally:
            for server in servers:
                server.stop()
    result: dict[str, Any] = {
        "benchmark": "serve_llamafactory",
        "revision": revision(),
        "machine": machine(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "model": f"stockade dev tiny-model --arch {ARCH} (template {TEMPLATE}, float32)",
        "requests": args.requests,
        "concurrency": args.concurrency,
        "max_tokens": args.max_tokens,
        "rounds": args.rounds,
        "seed": args.seed,
    }
    for server in servers:
        result[server.name] = summary(server.rounds)
    if len(servers) == 2:
        ours, theirs = result["stockade"], result["llamafactory"]
        tps = theirs["output_tokens_per_s"]
        result["ratio"] = round(ours["output_tokens_per_s"] / tps, 2) if tps else None
        cpu = theirs["output_tokens_per_cpu_s"]
        result["ratio_per_cpu_s"] = round(ours["output_tokens_per_cpu_s"] / cpu, 2) if cpu else None
        first = servers[0].rounds[0]["answers"], servers[1].rounds[0]["answers"]
        result["identical_answers"] = sum(a is not None and a == b for a, b in zip(*first, strict=True))
    return result


def print_table(result: dict[str, Any]) -> None:
    print(
        f"serve vs LLaMA-Factory: {result['requests']} chat requests at concurrency {result['concurrency']}, "
        f"{result['max_tokens']} new tokens, greedy, {result['rounds']} rounds; {result['model']}"
    )
    print(
        f"{'server':<13} {'round':>5} {'tok/s':>8} {'tok/CPU-s':>10} {'CPU s':>7} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'out tok':>8} {'failed':>6}"
    )
    for name in ("stockade", "llamafactory"):
        if name not in result:
            continue
        for number, r in enumerate(result[name]["rounds"], start=1):
            print(
                f"{name:<13} {number:>5} {r['output_tokens_per_s']:>8.1f} "
                f"{r['output_tokens_per_cpu_s'] or 0:>10.1f} {r['server_cpu_s']:>7.2f} "
                f"{r['latency_ms_p50'] or 0:>8.1f} {r['latency_ms_p99'] or 0:>8.1f} "
                f"{r['output_tokens']:>8} {r['failed']:>6}"
            )
        print(
            f"{name:<13} {'med':>5} {result[name]['output_tokens_per_s']:>8.1f} "
            f"{result[name]['output_tokens_per_cpu_s']:>10.1f}"
        )
    if "ratio" in result:
        print(
            f"ratio stockade / llamafactory: {result['ratio']} (tok/s), {result['ratio_per_cpu_s']} "
            f"(tok per server CPU second); identical answers {result['identical_answers']}/"
            f"{result['requests']}"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--llamafactory", default=None, help="llamafactory-cli to compare with (else Stockade alone)"
    )
    parser.add_argument("--requests", type=int, default=64, help="chat requests per round (64)")
    parser.add_argument("--concurrency", type=int, default=8, help="client workers (8)")
    parser.add_argument("--max-tokens", type=int, default=64, help="max_tokens of each request (64)")
    parser.add_argument("--rounds", type=int, default=2, help="measured rounds per server, interleaved (2)")
    parser.add_argument(
        "--warmup", type=int, default=None, help="unmeasured requests per server first (2 x concurrency)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the prompts (0)")
    parser.add_argument("--json-out", default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    for name in ("requests", "concurrency", "max_tokens", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup is None:
        args.warmup = 2 * args.concurrency
    if args.warmup < 0:
        parser.error("--warmup must be 0 or more")
    if args.llamafactory and not Path(args.llamafactory).is_file():
        parser.error(f"--llamafactory: {args.llamafactory} is not a file (the venv's bin/llamafactory-cli)")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    offline.activate()
    result = run(args)
    print_table(result)
    line = json.dumps(result, ensure_ascii=False)
    print(line)
    if args.json_out:
        Path(args.json_out).write_text(line + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
