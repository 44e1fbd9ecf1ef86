"""Client-side serving load, like vLLM's ``bench serve``: TTFT, TPOT, ITL, end-to-end latency, tokens/s.

    python benchmarks/serve_load.py --url http://127.0.0.1:5000 --token TOKEN --concurrency 1,8,32

Each level runs ``concurrency`` workers in a closed loop (a worker sends its next request when the last
one ends) over ``POST /generate_stream`` (TGI SSE), greedy, with ``max_new_tokens`` fixed. A token is
one SSE event. TTFT: send to first event; TPOT: (e2e - TTFT) / (tokens - 1); ITL: between events.
Prompts: ``--prompts FILE`` (a JSON list of strings), else ``--prompt-text`` repeated.
Needs only httpx and the standard library.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Sample:
    ok: bool
    ttft: float = 0.0
    e2e: float = 0.0
    tokens: int = 0
    gaps: list[float] = field(default_factory=list)
    status: int = 0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def one_request(client: Any, url: str, headers: dict[str, str], prompt: str, new_tokens: int) -> Sample:
    body = {"inputs": prompt, "parameters": {"max_new_tokens": new_tokens}}
    started = time.perf_counter()
    sample = Sample(ok=False)
    last = started
    async with client.stream("POST", f"{url}/generate_stream", json=body, headers=headers) as response:
        sample.status = response.status_code
        if response.status_code != 200:
            await response.aread()
            return sample
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            now = time.perf_counter()
            payload = json.loads(line[5:])
            if payload.get("error"):
                return sample
            if sample.tokens == 0:
                sample.ttft = now - started
            else:
                sample.gaps.append(now - last)
            last = now
            sample.tokens += 1
    sample.e2e = time.perf_counter() - started
    sample.ok = sample.tokens > 0
    return sample


async def run_level(
    url: str, token: str, prompts: list[str], concurrency: int, requests: int, new_tokens: int
) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    queue: asyncio.Queue[str] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(prompts[i % len(prompts)])
    samples: list[Sample] = []
    limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4)
    async with httpx.AsyncClient(timeout=httpx.Timeout(600.0), limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                prompt = queue.get_nowait()
                samples.append(await one_request(client, url, headers, prompt, new_tokens))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return summarize(samples, concurrency, wall)


def summarize(samples: list[Sample], concurrency: int, wall: float) -> dict[str, Any]:
    ok = [s for s in samples if s.ok]
    tokens = sum(s.tokens for s in ok)
    tpot = [(s.e2e - s.ttft) / (s.tokens - 1) for s in ok if s.tokens > 1]
    gaps = [g for s in ok for g in s.gaps]
    ms = 1000.0
    return {
        "concurrency": concurrency,
        "requests": len(samples),
        "failed": len(samples) - len(ok),
        "statuses": sorted({s.status for s in samples}),
        "wall_s": round(wall, 3),
        "output_tokens": tokens,
        "output_tokens_per_s": round(tokens / wall, 1) if wall else 0.0,
        "per_stream_tokens_per_s": round(1 / statistics.median(tpot), 1) if tpot else None,
        "ttft_ms_p50": round(percentile([s.ttft for s in ok], 50) * ms, 2),
        "ttft_ms_p99": round(percentile([s.ttft for s in ok], 99) * ms, 2),
        "tpot_ms_p50": round(percentile(tpot, 50) * ms, 2),
        "tpot_ms_p99": round(percentile(tpot, 99) * ms, 2),
        "itl_ms_p50": round(percentile(gaps, 50) * ms, 2),
        "itl_ms_p99": round(percentile(gaps, 99) * ms, 2),
        "e2e_ms_p50": round(percentile([s.e2e for s in ok], 50) * ms, 2),
        "e2e_ms_p99": round(percentile([s.e2e for s in ok], 99) * ms, 2),
    }


def run(
    url: str,
    token: str,
    prompts: list[str],
    levels: list[int],
    *,
    new_tokens: int,
    rounds: int,
    warmup: int,
    min_requests: int = 4,
) -> list[dict[str, Any]]:
    if warmup:
        asyncio.run(run_level(url, token, prompts, 1, warmup, new_tokens))
    return [
        asyncio.run(run_level(url, token, prompts, c, requests_at(c, rounds, min_requests), new_tokens))
        for c in levels
    ]


def requests_at(level: int, rounds: int, min_requests: int) -> int:
    """Requests sent at a level: ``rounds`` per worker, at least ``min_requests``."""
    return max(level * rounds, min_requests)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serving load from the client side (TGI /generate_stream).")
    parser.add_argument("--url", required=True, help="server base URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--token", default="", help="bearer token")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated levels")
    parser.add_argument("--rounds", type=int, default=2, help="requests per worker at each level")
    parser.add_argument("--min-requests", type=int, default=4, help="at least this many at each level")
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=2, help="untimed requests first")
    parser.add_argument("--prompts", default=None, help="JSON file: a list of prompt strings")
    parser.add_argument("--prompt-text", default="解释债券违约风险", help="used when --prompts is not given")
    parser.add_argument("--json-out", default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    if args.prompts:
        with open(args.prompts, encoding="utf-8") as handle:
            prompts = json.load(handle)
    else:
        prompts = [args.prompt_text]
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    results = run(
        args.url.rstrip("/"),
        args.token,
        prompts,
        levels,
        new_tokens=args.new_tokens,
        rounds=args.rounds,
        warmup=args.warmup,
        min_requests=args.min_requests,
    )
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)
    for row in results:
        print(json.dumps(row))
    return results


if __name__ == "__main__":
    main()
