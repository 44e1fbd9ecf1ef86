"""The oversized-prompt attack on ``stockade serve``: latency of a normal ``/generate``, unloaded and while
``--attackers`` credentials each send ``--rate`` requests/s of ``--prompt-bytes`` prompts (issue 14).

    python -m stockade.bench.serve_attack                      # 8 credentials, 3 req/s each, 1 MB prompts
    python -m stockade.bench.serve_attack --requests 60 --json-out attack.json

In a temporary folder: a workspace, a tiny Qwen2 model (``stockade dev tiny-model``'s builder), one API key
per client. The real ``stockade serve --dev`` process is started on 127.0.0.1 with the workspace's default
security settings, and driven over loopback HTTP:

* **normal**: one client (from 127.0.0.1) sends ``--requests`` greedy ``/generate`` calls one after
  another (``--new-tokens`` tokens each, ``--pause`` s apart), first unloaded, then under attack;
* **attack**: a separate process, a thread per credential, each from its own loopback address
  (127.0.0.2, 127.0.0.3, ...: as many client machines, so each stays under the per-address limit), each
  sending a ``--prompt-bytes`` UTF-8 prompt to ``/generate`` ``--rate`` times a second.

Reported: median and p95 latency of the normal calls in both phases and their ratios (goal: the median
under attack within 2x), the attack's answers by status, and the server process's CPU seconds per phase
(from /proc). ``--server-src`` runs the server from another source tree (e.g. an older checkout's
``src``) to measure before and after with the same client. Needs only the standard library and httpx.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

NORMAL_PROMPT = "解释债券违约风险"
ATTACK_TEXT = "请评估该笔贷款的信用风险与利率风险 assess the credit and interest-rate risk of this loan. "


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def attack_prompt(size: int) -> str:
    """Text of exactly ``size`` bytes of UTF-8 (Chinese and English, as a real document)."""
    text = ATTACK_TEXT * (size // len(ATTACK_TEXT.encode("utf-8")) + 1)
    cut = text.encode("utf-8")[:size].decode("utf-8", "ignore")
    return cut + " " * (size - len(cut.encode("utf-8")))


def prepare(folder: Path, clients: int) -> tuple[Path, Path, list[str]]:
    """A workspace, a tiny model and ``clients`` API keys (of the workspace's first admin)."""
    from stockade.models.tiny import build_tiny_model
    from stockade.security.service import issue_credential
    from stockade.workspace.service import initialize_workspace, open_workspace

    workspace = folder / "workspace"
    initialize_workspace(workspace)
    model = build_tiny_model("qwen2", folder / "qwen2").path
    with open_workspace(workspace) as context:
        subject = context.actor.name
        tokens = [
            issue_credential(context, kind="api_key", subject=subject, roles=["admin"]).token
            for _ in range(clients)
        ]
    return workspace, model, tokens


def start_server(workspace: Path, model: Path, server_src: str | None) -> tuple[subprocess.Popen, str]:
    """``stockade serve --dev`` on a free port of 127.0.0.1; returns once it announced its address."""
    env = dict(os.environ)
    if server_src:
        env["PYTHONPATH"] = os.pathsep.join([server_src, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    command = [sys.executable, "-m", "stockade", "-w", str(workspace), "serve", "--dev"]
    with socket.socket() as probe:  # a free port (ServeSpec takes no --port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command += ["--model_name_or_path", str(model), "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + 180
    for line in process.stdout:
        found = re.search(r"on (http://127\.0\.0\.1:\d+)", line)
        if found:
            threading.Thread(target=process.stdout.read, daemon=True).start()  # keep the pipe drained
            return process, found.group(1)
        if time.monotonic() > deadline:
            break
    process.kill()
    raise RuntimeError(f"stockade serve did not start: {process.stderr.read() if process.stderr else ''}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(url: str, token: str, count: int, new_tokens: int, pause: float) -> dict[str, Any]:
    """``count`` normal /generate calls one after another: latencies (s) of the answered ones."""
    import httpx

    body = {"inputs": NORMAL_PROMPT, "parameters": {"max_new_tokens": new_tokens}}
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    transport = httpx.HTTPTransport(local_address="127.0.0.1")
    with httpx.Client(transport=transport, timeout=120) as client:
        for _ in range(count):
            started = time.perf_counter()
            response = client.post(f"{url}/generate", json=body, headers=headers)
            elapsed = time.perf_counter() - started
            statuses[str(response.status_code)] += 1
            if response.status_code == 200:
                latencies.append(elapsed)
            time.sleep(pause)
    return {
        "requests": count,
        "statuses": dict(statuses),
        "median_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 95) * 1000, 1) if latencies else None,
    }


def attack(url: str, tokens: list[str], rate: float, prompt_bytes: int, stop: Any, results: Any) -> None:
    """In its own process: a thread per token, each from 127.0.0.(2+i), ``rate`` big prompts a second."""
    import httpx

    body = json.dumps(
        {"inputs": attack_prompt(prompt_bytes), "parameters": {"max_new_tokens": 16}}, ensure_ascii=False
    ).encode("utf-8")
    statuses: Counter[str] = Counter()
    answer_times: list[float] = []
    lock = threading.Lock()

    def one(index: int, token: str) -> None:
        transport = httpx.HTTPTransport(local_address=f"127.0.0.{2 + index}")
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        due = time.monotonic() + index / (rate * len(tokens))  # spread the senders over the period
        with httpx.Client(transport=transport, timeout=60) as client:
            while not stop.is_set():
                time.sleep(max(0.0, due - time.monotonic()))
                due += 1 / rate
                started = time.perf_counter()
                try:
                    status = str(client.post(f"{url}/generate", content=body, headers=headers).status_code)
                except httpx.HTTPError as exc:
                    status = exc.__class__.__name__
                with lock:
                    statuses[status] += 1
                    answer_times.append(time.perf_counter() - started)

    threads = [threading.Thread(target=one, args=(i, t), daemon=True) for i, t in enumerate(tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    median = round(statistics.median(answer_times) * 1000, 1) if answer_times else None
    results.put({"statuses": dict(statuses), "answer_median_ms": median})


class Attack:
    """The attack process, started and stopped around a measurement."""

    def __init__(self, url: str, tokens: list[str], rate: float, prompt_bytes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop, self.results = context.Event(), context.Queue()
        self.process = context.Process(
            target=attack, args=(url, tokens, rate, prompt_bytes, self.stop, self.results), daemon=True
        )
        self.started = 0.0

    def __enter__(self) -> Attack:
        self.process.start()
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.process.join(120)
        if self.process.is_alive():
            self.process.kill()

    def report(self) -> dict[str, Any]:
        found = self.results.get(timeout=60)
        found["seconds"] = round(time.monotonic() - self.started, 1)
        return found


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="stockade-attack-") as folder:
        workspace, model, tokens = prepare(Path(folder), args.attackers + 1)
        process, url = start_server(workspace, model, args.server_src)
        try:
            normal, attackers = tokens[0], tokens[1:]
            measure(url, normal, 5, args.new_tokens, args.pause)  # warm-up
            cpu = cpu_seconds(process.pid)
            unloaded = measure(url, normal, args.requests, args.new_tokens, args.pause)
            unloaded["server_cpu_s"] = round(cpu_seconds(process.pid) - cpu, 2)
            with Attack(url, attackers, args.rate, args.prompt_bytes) as running:
                time.sleep(args.settle)
                cpu = cpu_seconds(process.pid)
                loaded = measure(url, normal, args.requests, args.new_tokens, args.pause)
                loaded["server_cpu_s"] = round(cpu_seconds(process.pid) - cpu, 2)
            attack_result = running.report()
        finally:
            process.terminate()
            process.wait(60)
    ratio = None
    if unloaded["median_ms"] and loaded["median_ms"]:
        ratio = {
            "median": round(loaded["median_ms"] / unloaded["median_ms"], 2),
            "p95": round(loaded["p95_ms"] / unloaded["p95_ms"], 2),
        }
    return {
        "settings": {k: v for k, v in vars(args).items() if k != "json_out"},
        "unloaded": unloaded,
        "under_attack": loaded,
        "attack": attack_result,
        "ratio": ratio,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="normal calls per phase (40)")
    parser.add_argument("--attackers", type=int, default=8, help="attacking credentials (8)")
    parser.add_argument("--rate", type=float, default=3.0, help="requests/s per attacking credential (3)")
    parser.add_argument("--prompt-bytes", type=int, default=1_000_000, help="bytes of each attack prompt")
    parser.add_argument("--new-tokens", type=int, default=16, help="max_new_tokens of a normal call (16)")
    parser.add_argument("--pause", type=float, default=0.1, help="seconds between normal calls (0.1)")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds of attack before measuring (2)")
    parser.add_argument("--server-src", help="run the server from this source folder (e.g. an old checkout)")
    parser.add_argument("--json-out", help="also write the result here")
    args = parser.parse_args(argv)
    if args.attackers > 250:
        parser.error("--attackers: at most 250 (one loopback address each)")
    result = run(args)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    unloaded, loaded, ratio = result["unloaded"], result["under_attack"], result["ratio"] or {}
    print(
        "\n| unloaded median / p95 ms | under attack median / p95 ms | ratio median / p95 | attack answers |"
    )
    print(
        f"| {unloaded['median_ms']} / {unloaded['p95_ms']} | {loaded['median_ms']} / {loaded['p95_ms']} | "
        f"{ratio.get('median')} / {ratio.get('p95')} | {result['attack']['statuses']} |"
    )
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
