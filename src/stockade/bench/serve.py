"""Serving throughput: the HTTP API (continuous batching) against plain ``model.generate``, in the same run.

    python -m stockade.bench.serve --shape qwen2.5-7b --device cuda --concurrency 1,64 --json-out serve.json
    python -m stockade.bench.serve --shape tiny --device cpu --concurrency 1,8,32

The model is built from a config alone with random weights (``--shape`` from ``stockade.bench.shapes``:
the real Qwen2.5-7B shape in bf16 on CUDA, a 2-layer Qwen2 on CPU). Prompts are random token ids with
lengths spread uniformly over ``--min-prompt``..``--max-prompt`` (128-512 by default); every request
generates exactly ``--new-tokens`` (128; end-of-sequence is ignored on both sides).

* **server**: ``stockade serve``'s hf engine and API, in this process on 127.0.0.1, loaded by a client
  subprocess (``stockade.bench.serve_load``: closed-loop workers on ``/generate_stream``). A stand-in
  tokenizer maps token id ``i`` to the word ``t<i>``, so prompts have exact lengths without a vocabulary.
* **baseline**: ``model.generate`` (greedy, KV cache, SDPA) on the same prompts: one at a time for
  concurrency 1, and static batches of ``concurrency`` prompts, left-padded, for the other levels.

Reported per level: output tokens/s for both and their ratio, TTFT/TPOT/ITL/e2e p50 and p99 from the
client. Imports: torch, transformers and what the API needs (fastapi, uvicorn, pydantic,
prometheus-client, httpx for the client); nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from stockade.bench.serve_load import requests_at
from stockade.core import offline

MIN_REQUESTS = 4
TOKEN = "bench-token"  # noqa: S105 - a loopback server that lives for this run only
SHAPE_DEFAULTS = {  # tiny: small enough for the test suite on 2 CPU cores
    "tiny": {"min_prompt": 16, "max_prompt": 64, "new_tokens": 16},
    "qwen2.5-7b": {"min_prompt": 128, "max_prompt": 512, "new_tokens": 128},
}


class WordTokenizer:
    """Token id ``i`` <-> the word ``t<i>``: exact prompt lengths for a random-weight model."""

    bos_token = eos_token = pad_token = None
    eos_token_id = None
    all_special_ids: tuple[int, ...] = ()

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        return {"input_ids": [int(word[1:]) for word in text.split()]}

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return "".join(f" t{i}" for i in ids)


class BenchAuthenticator:
    def authenticate(self, authorization: str | None, client_address: str) -> Any:
        import hmac

        from stockade.security.principal import AuthenticationFailed, Principal

        if not hmac.compare_digest((authorization or "").encode(), f"Bearer {TOKEN}".encode()):
            raise AuthenticationFailed("bad token")
        return Principal("bench", frozenset({"api_client"}), "api_key", "bench")


def make_prompts(count: int, vocab: int, low: int, high: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)  # noqa: S311 - reproducible benchmark data
    return [[rng.randrange(16, vocab) for _ in range(rng.randint(low, high))] for _ in range(count)]


def build_model(shape: str, device: Any, dtype: Any) -> Any:
    from stockade.bench.shapes import build_random_model

    model = build_random_model(shape, device, dtype).eval()
    model.config.use_cache = True
    model.generation_config.eos_token_id = None  # exactly --new-tokens on every request
    model.generation_config.pad_token_id = 0
    model.generation_config.use_cache = True
    return model


def sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def generate_baseline(model: Any, prompts: list[list[int]], batch: int, new_tokens: int, device: Any) -> dict:
    """Plain ``model.generate``: batches of ``batch`` prompts left-padded to the longest."""
    import torch

    def run(part: list[list[int]]) -> int:
        width = max(len(p) for p in part)
        ids = torch.zeros((len(part), width), dtype=torch.long)
        mask = torch.zeros((len(part), width), dtype=torch.long)
        for row, prompt in enumerate(part):
            ids[row, width - len(prompt) :] = torch.tensor(prompt)
            mask[row, width - len(prompt) :] = 1
        out = model.generate(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            pad_token_id=0,
        )
        return (out.shape[1] - width) * len(part)

    with torch.inference_mode():
        run(prompts[:1])  # warm-up
        sync(device)
        started = time.perf_counter()
        tokens = sum(run(prompts[i : i + batch]) for i in range(0, len(prompts), batch))
        sync(device)
    seconds = time.perf_counter() - started
    return {
        "batch": batch,
        "prompts": len(prompts),
        "output_tokens": tokens,
        "seconds": round(seconds, 3),
        "output_tokens_per_s": round(tokens / seconds, 1),
    }


def start_server(
    model: Any, args: argparse.Namespace, max_batch: int, probe: list[int]
) -> tuple[Any, Any, str]:
    """Start the engine and API. A configuration that fails to start or to generate (CUDA graph capture,
    the grouped decode attention) must not lose an unattended GPU run: the next one is tried."""
    from stockade.api.app import create_app
    from stockade.data.templates.base import ChatTemplate
    from stockade.serving.hf_engine import HFEngine

    graphs = args.cuda_graphs == "on" or (args.cuda_graphs == "auto" and args.device == "cuda")
    options = {
        "model_id": f"random-{args.shape}",
        "context": args.max_prompt + args.new_tokens + 8,
        "max_batch_size": max_batch,
        "max_waiting": 4 * max_batch + 16,
    }
    tries = [(graphs, True), (graphs, False), (False, False)] if graphs else [(False, True), (False, False)]
    for number, (use_graphs, grouped) in enumerate(tries, start=1):
        engine = None
        try:
            engine = HFEngine(
                model, WordTokenizer(), cuda_graphs=use_graphs, grouped_attention=grouped, **options
            )
            engine.start()
            greedy_tokens(engine, [probe], 2)
            break
        except Exception as exc:
            if engine is not None:
                engine.stop()
            if number == len(tries):
                raise
            progress(
                f"engine with CUDA graphs {use_graphs}, grouped attention {grouped} failed ({exc!r}); next"
            )
    engine.cuda_graphs, engine.grouped_attention = use_graphs, grouped
    template = ChatTemplate(name="bench", user="{content}", answer="{content}")
    app = create_app(
        engine,
        authenticator=BenchAuthenticator(),
        template=template,
        model_id=options["model_id"],
        request_timeout=None,
    )
    server = _serve_in_thread(app)
    return engine, server, f"http://127.0.0.1:{server.port}"


def _serve_in_thread(app: Any) -> Any:
    import socket
    import threading

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio sets TCP_NODELAY
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    server.port = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)  # uvloop if there
    thread.start()
    server.thread = thread
    while not server.started:
        time.sleep(0.02)
    return server


def greedy_tokens(engine: Any, prompts: list[list[int]], tokens: int) -> list[list[int]]:
    """The engine's greedy tokens for ``prompts``, decoded together."""
    import asyncio

    from stockade.serving.params import GenerationParams

    async def one(ids: list[int]) -> list[int]:
        handle = engine.submit(ids, GenerationParams(max_new_tokens=tokens))
        out = []
        while True:
            event = await handle.events.get()
            if event.error is not None:
                raise event.error
            out.append(event.token_id)
            if event.finish:
                return out

    async def all_of() -> list[list[int]]:
        return list(await asyncio.gather(*(one(p) for p in prompts)))

    return asyncio.run(all_of())


def greedy_agreement(
    engine: Any, model: Any, prompts: list[list[int]], device: Any, tokens: int = 16
) -> dict:
    """A correctness signal for the numbers: the engine's greedy tokens (two prompts decoded together)
    against ``model.generate`` one at a time, up to the first difference. Random weights give nearly
    flat logits, so in bf16 a late divergence is a near-tie, not a bug; an early one is worth a look."""
    import torch

    served = greedy_tokens(engine, prompts, tokens)
    same = []
    with torch.inference_mode():
        for ids, got in zip(prompts, served, strict=True):
            ref = model.generate(
                torch.tensor([ids], device=device),
                max_new_tokens=tokens,
                min_new_tokens=tokens,
                do_sample=False,
                pad_token_id=0,
            )[0, len(ids) :].tolist()
            same.append(next((i for i, (a, b) in enumerate(zip(ref, got, strict=True)) if a != b), tokens))
    return {"tokens_per_prompt": tokens, "identical_prefix": same}


def run_load(url: str, prompts: list[str], levels: list[int], args: argparse.Namespace) -> list[dict]:
    """The client in its own process (its own interpreter lock), as a real client would be."""
    with tempfile.TemporaryDirectory() as tmp:
        prompt_file, out_file = Path(tmp) / "prompts.json", Path(tmp) / "load.json"
        prompt_file.write_text(json.dumps(prompts), encoding="utf-8")
        src = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
        command = [
            sys.executable,
            "-m",
            "stockade.bench.serve_load",
            "--url",
            url,
            "--token",
            TOKEN,
            "--concurrency",
            ",".join(map(str, levels)),
            "--rounds",
            str(args.rounds),
            "--new-tokens",
            str(args.new_tokens),
            "--warmup",
            "2",
            "--min-requests",
            str(MIN_REQUESTS),
            "--prompts",
            str(prompt_file),
            "--json-out",
            str(out_file),
        ]
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        return json.loads(out_file.read_text(encoding="utf-8"))


def progress(message: str) -> None:
    print(f"[serve bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serving API vs model.generate, same run.")
    parser.add_argument("--shape", choices=sorted(SHAPE_DEFAULTS), default="tiny")
    parser.add_argument("--device", choices=["cuda", "cpu"], default=None, help="default: cuda if available")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated levels")
    parser.add_argument("--rounds", type=int, default=2, help="requests per client worker at each level")
    parser.add_argument("--min-prompt", type=int, default=None, help="shortest prompt (tokens)")
    parser.add_argument("--max-prompt", type=int, default=None, help="longest prompt (tokens)")
    parser.add_argument("--new-tokens", type=int, default=None, help="generated tokens per request")
    parser.add_argument(
        "--cuda-graphs",
        choices=["auto", "on", "off"],
        default="auto",
        help="decode with CUDA graphs (auto: on CUDA)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    parser.add_argument("--json-out", default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    for key, value in SHAPE_DEFAULTS[args.shape].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    offline.activate()
    args = parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    count = max(requests_at(c, args.rounds, MIN_REQUESTS) for c in levels)
    model = build_model(args.shape, device, dtype)
    prompts = make_prompts(count, model.config.vocab_size, args.min_prompt, args.max_prompt, args.seed)

    progress(f"built {args.shape} on {device}; starting the server (max batch {max(levels)})")
    engine, server, url = start_server(model, args, max(levels), prompts[0])
    progress(
        f"server up (CUDA graphs {'on' if engine.cuda_graphs else 'off'}, grouped decode attention "
        f"{'on' if engine.grouped_attention else 'off'}); running the load"
    )
    try:
        agreement = greedy_agreement(engine, model, prompts[:2], device, min(16, args.new_tokens))
        load = run_load(url, [" ".join(f"t{i}" for i in p) for p in prompts], levels, args)
        counters = engine.counters()
    finally:
        server.should_exit = True
        server.thread.join(timeout=30)
        engine.stop()

    rows = []
    for level, measured in zip(levels, load, strict=True):
        base = generate_baseline(
            model, prompts[: requests_at(level, args.rounds, MIN_REQUESTS)], level, args.new_tokens, device
        )
        ratio = (
            measured["output_tokens_per_s"] / base["output_tokens_per_s"]
            if base["output_tokens_per_s"]
            else None
        )
        progress(
            f"level {level}: server {measured['output_tokens_per_s']} tok/s, "
            f"generate {base['output_tokens_per_s']}"
        )
        rows.append(
            {
                "concurrency": level,
                "server": measured,
                "baseline": base,
                "ratio": round(ratio, 2) if ratio else None,
            }
        )
    result = {
        "benchmark": "serve",
        "shape": args.shape,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "dtype": str(dtype).removeprefix("torch."),
        "torch": torch.__version__,
        "prompt_tokens": [args.min_prompt, args.max_prompt],
        "new_tokens": args.new_tokens,
        "cuda_graphs": engine.cuda_graphs,
        "grouped_decode_attention": engine.grouped_attention,
        "greedy_agreement": agreement,
        "engine": {
            "decode_passes": counters.decode_passes,
            "decoded_rows": counters.decoded_rows,
            "max_rows_in_pass": counters.max_rows_in_pass,
            "prefill_passes": counters.prefill_passes,
        },
        "levels": rows,
    }
    print_table(result)
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as out:
            json.dump(result, out, indent=2)
    return result


def print_table(result: dict[str, Any]) -> None:
    print(
        f"serve bench: {result['shape']} on {result['device']} ({result['dtype']}), prompts "
        f"{result['prompt_tokens'][0]}-{result['prompt_tokens'][1]} tokens, "
        f"{result['new_tokens']} new tokens, "
        f"CUDA graphs {'on' if result['cuda_graphs'] else 'off'}, grouped decode attention "
        f"{'on' if result['grouped_decode_attention'] else 'off'}"
    )
    header = (
        f"{'conc':>5} {'server tok/s':>13} {'generate tok/s':>15} {'ratio':>6} {'per-stream':>10} "
        f"{'TTFT p50/p99 ms':>17} {'TPOT p50/p99 ms':>17} {'e2e p50/p99 ms':>19} {'failed':>6}"
    )
    print(header)
    for row in result["levels"]:
        s, b = row["server"], row["baseline"]
        print(
            f"{row['concurrency']:>5} {s['output_tokens_per_s']:>13.1f} {b['output_tokens_per_s']:>15.1f} "
            f"{row['ratio'] or 0:>6.2f} {s['per_stream_tokens_per_s'] or 0:>10.1f} "
            f"{s['ttft_ms_p50']:>8.1f}/{s['ttft_ms_p99']:<8.1f} "
            f"{s['tpot_ms_p50']:>8.2f}/{s['tpot_ms_p99']:<8.2f} "
            f"{s['e2e_ms_p50']:>9.1f}/{s['e2e_ms_p99']:<9.1f} {s['failed']:>6}"
        )
    agreement = result["greedy_agreement"]
    print(
        f"greedy check vs model.generate: identical for the first {agreement['identical_prefix']} of "
        f"{agreement['tokens_per_prompt']} tokens"
    )
    engine = result["engine"]
    print(
        f"engine: {engine['decode_passes']} decode passes for {engine['decoded_rows']} row-steps "
        f"(max {engine['max_rows_in_pass']} rows in one pass), {engine['prefill_passes']} prefill passes"
    )


if __name__ == "__main__":
    main()
