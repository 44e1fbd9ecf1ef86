"""Training benchmark through `stockade train` itself, optionally against LLaMA-Factory's own CLI.

    python -m stockade.bench.train --repeats 3                                    # stockade, tiny model
    python -m stockade.bench.train --llamafactory /tmp/lf-venv/bin/llamafactory-cli --repeats 3 \\
        --md /tmp/bench/train-cpu.md                                              # vs LLaMA-Factory
    python -m stockade.bench.train --model /srv/models/Qwen2.5-7B --data data.json --cutoff-len 2048

There is no training loop here: every timed run is the real ``stockade train CONFIG.yaml`` in a
subprocess, in a fresh workspace made by ``stockade init`` (dev mode, so a model folder trains), on a
dataset imported through the privacy gate (``stockade data import``). The peer is the real
``llamafactory-cli train CONFIG.yaml`` (its own venv), on the same model folder, the same alpaca file (a
``dataset_info.json`` beside it), the same keys: both configs are written from one dict of
LLaMA-Factory keys (:func:`common_keys`) and differ only where the tools name the data and output.
Runs alternate (stockade, peer, stockade, ...), ``--repeats`` each.

Reported per tool (median and min..max over the repeats):

* **wall**: the whole process, start to exit (imports, model load, tokenization, training, saving).
* **steady-state real tokens/s**: non-padding tokens of the steps after the first ``--warmup-steps``,
  over the time between that step's log line and the last one; the same definition for both, from
  each tool's per-step log (stockade: ``metrics.jsonl``'s ``real_tokens`` and ``elapsed_s``;
  LLaMA-Factory: ``trainer_log.jsonl``'s ``total_tokens`` and ``throughput`` with
  ``include_num_input_tokens_seen: non_padding``).
* stockade's peak memory (``metrics.jsonl``) and final loss; the peer's final loss.
* **MFU** on a GPU with a known peak: FLOPs = 4 x N x real tokens/s (N = matmul parameters without the
  embedding table: forward 2N + activation gradients 2N; frozen base, no weight gradients; attention
  scores and recompute not counted), over the dense bf16 peak (H100/H200: 989 TFLOPS).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
DEFAULT_DATA = REPO / "tests/fixtures/llamafactory-data/alpaca_en_demo.json"
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "H800": 989.0, "A100": 312.0, "A800": 312.0}
MFU_CONVENTION = (
    "FLOPs = 4 * N * real_tokens (N = matmul params, embedding excluded, lm_head included; forward 2N + "
    "activation-gradient backward 2N; attention scores and recompute not counted); peak = dense bf16"
)


@dataclass
class Measured:
    tool: str
    wall_s: float
    tokens_per_s: float | None
    final_loss: float | None
    steps: int
    peak_memory_mb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def common_keys(args: argparse.Namespace, model: Path) -> dict[str, Any]:
    """The LLaMA-Factory keys both tools get (LLaMA-Factory's example LoRA SFT recipe, sized by args)."""
    keys: dict[str, Any] = {
        "model_name_or_path": str(model),
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "lora_rank": 8,
        "lora_target": "all",
        "template": args.template,
        "cutoff_len": args.cutoff_len,
        "max_samples": args.max_samples,
        "per_device_train_batch_size": args.batch_size,
        "gradient_accumulation_steps": args.accumulation,
        "learning_rate": 1.0e-4,
        "num_train_epochs": args.epochs,
        "lr_scheduler_type": "cosine",
        "warmup_ratio": 0.1,
        "logging_steps": 1,
        "save_steps": 100000,
        "plot_loss": False,
        "report_to": "none",
        "seed": 42,
    }
    if args.max_steps:
        keys["max_steps"] = args.max_steps
    for item in args.set:
        key, _, value = item.partition("=")
        keys[key] = yaml.safe_load(value)
    return keys


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: int) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return wall, done.stdout


def steady_tokens_per_s(points: list[tuple[float, float]], warmup: int) -> float | None:
    """``points``: (elapsed seconds, cumulative real tokens) after each step; tokens/s after ``warmup``."""
    if len(points) <= warmup + 1:
        return None
    (t0, n0), (t1, n1) = points[warmup], points[-1]
    return (n1 - n0) / (t1 - t0) if t1 > t0 else None


class Stockade:
    name = "stockade train"

    def __init__(self, root: Path, args: argparse.Namespace, env: dict[str, str]) -> None:
        self.root, self.args, self.env = root, args, env
        self.cli = [sys.executable, "-m", "stockade"]
        self.workspace = root / "ws"

    def setup(self, data: Path) -> None:
        self._cli("init", str(self.workspace))
        settings = self.workspace / "stockade.yaml"
        settings.write_text(settings.read_text().replace("dev_mode: false", "dev_mode: true"))
        self._cli("-w", str(self.workspace), "data", "import", str(data), "--name", "bench")

    def build_tiny_model(self, out: Path, arch: str) -> None:
        self._cli("-w", str(self.workspace), "dev", "tiny-model", "--arch", arch, "--out", str(out))

    def _cli(self, *args: str) -> str:
        return _run([*self.cli, *args], self.root, self.env, self.args.timeout)[1]

    def command(self, keys: dict[str, Any], index: int) -> list[str]:
        config = self.root / f"stockade-{index}.yaml"
        config.write_text(yaml.safe_dump({**keys, "dataset": "bench"}), encoding="utf-8")
        return [*self.cli, "-w", str(self.workspace), "train", str(config), "--json-progress"]

    def measure(self, keys: dict[str, Any], index: int) -> Measured:
        wall, out = _run(self.command(keys, index), self.root, self.env, self.args.timeout)
        events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        finish = next(e for e in events if e.get("event") == "finish")
        run_dir = self.workspace / "runs" / finish["run"]
        records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        records = [r for r in records if "real_tokens" in r]
        points, total = [], 0
        for record in records:
            total += record["real_tokens"]
            points.append((record["elapsed_s"], total))
        lineage = json.loads((run_dir / "lineage.json").read_text())
        return Measured(
            self.name,
            wall,
            steady_tokens_per_s(points, self.args.warmup_steps),
            finish.get("final_loss"),
            finish.get("steps", 0),
            max((r.get("peak_memory_mb") or 0 for r in records), default=None),
            {"tokens": finish.get("tokens"), "recipe": lineage.get("recipe", {})},
        )


class LlamaFactory:
    name = "llamafactory-cli train"

    def __init__(self, root: Path, args: argparse.Namespace, cli: str) -> None:
        self.root, self.args, self.cli = root, args, cli
        self.env = {
            **os.environ,
            "DISABLE_VERSION_CHECK": "1",
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
        }
        self.env.pop("PYTHONPATH", None)

    def setup(self, data: Path) -> None:
        folder = self.root / "lf-data"
        folder.mkdir()
        shutil.copy(data, folder / "bench.json")
        (folder / "dataset_info.json").write_text(json.dumps({"bench": {"file_name": "bench.json"}}))

    def command(self, keys: dict[str, Any], index: int) -> list[str]:
        out = self.root / f"lf-out-{index}"
        config = self.root / f"lf-{index}.yaml"
        lf = {
            **keys,
            "dataset": "bench",
            "dataset_dir": str(self.root / "lf-data"),
            "output_dir": str(out),
            "overwrite_output_dir": True,
            "include_num_input_tokens_seen": "non_padding",
            "preprocessing_num_workers": 1,
        }
        config.write_text(yaml.safe_dump(lf), encoding="utf-8")
        return [self.cli, "train", str(config)]

    def measure(self, keys: dict[str, Any], index: int) -> Measured:
        wall, _ = _run(self.command(keys, index), self.root, self.env, self.args.timeout)
        out = self.root / f"lf-out-{index}"
        logs = [json.loads(line) for line in (out / "trainer_log.jsonl").read_text().splitlines()]
        logs = [r for r in logs if r.get("total_tokens") and r.get("throughput")]
        points = [(r["total_tokens"] / r["throughput"], float(r["total_tokens"])) for r in logs]
        losses = [r["loss"] for r in logs if r.get("loss") is not None]
        return Measured(
            self.name,
            wall,
            steady_tokens_per_s(points, self.args.warmup_steps),
            losses[-1] if losses else None,
            logs[-1]["current_steps"] if logs else 0,
            extra={"tokens": logs[-1]["total_tokens"] if logs else None},
        )


def _version(python: str, *names: str) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: out[n] = None\n"
        "print(json.dumps(out))"
    )
    done = subprocess.run([python, "-c", code, *names], capture_output=True, text=True, check=False)
    return json.loads(done.stdout) if done.returncode == 0 else {}


def _summary(values: list[float | None]) -> dict[str, float | None]:
    real = [v for v in values if v is not None]
    if not real:
        return {"median": None, "min": None, "max": None}
    return {
        "median": round(statistics.median(real), 3),
        "min": round(min(real), 3),
        "max": round(max(real), 3),
    }


def matmul_params(model: Path) -> int | None:
    """Parameters of the model's matmuls from its safetensors headers (embedding table excluded)."""
    total, found = 0, False
    for path in sorted(model.glob("*.safetensors")):
        with path.open("rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(size))
        for name, info in header.items():
            if name == "__metadata__" or "embed_tokens" in name or len(info.get("shape", [])) < 2:
                continue
            found = True
            count = 1
            for dim in info["shape"]:
                count *= dim
            total += count
    return total if found else None


def peak_tflops(override: float | None) -> tuple[float | None, str]:
    if override:
        return override, "--peak-tflops"
    try:
        import torch
    except ImportError:
        return None, "no torch"
    if not torch.cuda.is_available():
        return None, "cpu: no MFU"
    name = torch.cuda.get_device_name(0)
    for key, value in PEAK_TFLOPS.items():
        if key in name:
            return value, name
    return None, f"{name}: unknown peak, pass --peak-tflops"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m stockade.bench.train", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--model", type=Path, default=None, help="a model folder (default: a tiny qwen2)")
    parser.add_argument(
        "--tiny-arch", default="qwen2", help="`stockade dev tiny-model --arch` when no --model"
    )
    parser.add_argument(
        "--data", type=Path, default=None, help=f"an alpaca JSON file (default: {DEFAULT_DATA})"
    )
    parser.add_argument("--template", default="qwen")
    parser.add_argument("--cutoff-len", type=int, default=1024)
    parser.add_argument("--max-samples", type=int, default=1000)
    parser.add_argument(
        "--batch-size", type=int, default=1, help="per_device_train_batch_size (LF example: 1)"
    )
    parser.add_argument(
        "--accumulation", type=int, default=8, help="gradient_accumulation_steps (LF example: 8)"
    )
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--max-steps", type=int, default=None, help="optimizer steps (default: whole epochs)")
    parser.add_argument("--warmup-steps", type=int, default=2, help="steps left out of steady-state tokens/s")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="one more key, both tools"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of each tool, interleaved")
    parser.add_argument("--llamafactory", default=None, help="path of llamafactory-cli (its own venv)")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for both tools")
    parser.add_argument("--peak-tflops", type=float, default=None, help="accelerator peak for MFU")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds one run may take")
    parser.add_argument("--work", type=Path, default=None, help="keep the workspace and logs here")
    parser.add_argument("--json-out", type=Path, default=None)
    parser.add_argument("--md", type=Path, default=None, help="append the Markdown rows to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    root = args.work or Path(tempfile.mkdtemp(prefix="stockade-bench-train-"))
    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ}
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    data = args.data or DEFAULT_DATA
    ours = Stockade(root, args, env)
    ours.setup(data)
    model = args.model
    if model is None:
        model = root / "model"
        ours.build_tiny_model(model, args.tiny_arch)
    keys = common_keys(args, model)
    tools: list[Any] = [ours]
    if args.llamafactory:
        peer = LlamaFactory(root, args, args.llamafactory)
        if args.threads:
            peer.env["OMP_NUM_THREADS"] = str(args.threads)
        peer.setup(data)
        tools.append(peer)
    runs: dict[str, list[Measured]] = {tool.name: [] for tool in tools}
    for index in range(args.repeats):
        for tool in tools:
            measured = tool.measure(keys, index)
            runs[tool.name].append(measured)
            print(json.dumps({"run": index, **measured.__dict__}, default=str), flush=True)

    peak, peak_source = peak_tflops(args.peak_tflops)
    n_matmul = matmul_params(model)
    result: dict[str, Any] = {
        "benchmark": "train",
        "model": str(model),
        "data": str(data),
        "keys": keys,
        "machine": f"{platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs)",
        "threads": args.threads,
        "versions": {"stockade venv": _version(sys.executable, "torch", "transformers", "peft", "stockade")},
        "mfu_convention": MFU_CONVENTION,
        "peak_tflops": peak,
        "peak_source": peak_source,
        "matmul_params": n_matmul,
        "tools": {},
    }
    if args.llamafactory:
        python = str(Path(args.llamafactory).with_name("python"))
        result["versions"]["llamafactory venv"] = _version(
            python, "llamafactory", "torch", "transformers", "peft"
        )
        result["commands"] = {t.name: " ".join(t.command(keys, 0)) for t in tools}
    else:
        result["commands"] = {ours.name: " ".join(ours.command(keys, 0))}
    for name, measured in runs.items():
        tps = _summary([m.tokens_per_s for m in measured])
        mfu = None
        if peak and n_matmul and tps["median"]:
            mfu = round(4 * n_matmul * tps["median"] / (peak * 1e12), 4)
        result["tools"][name] = {
            "wall_s": _summary([m.wall_s for m in measured]),
            "tokens_per_s": tps,
            "final_loss": [m.final_loss for m in measured],
            "steps": [m.steps for m in measured],
            "peak_memory_mb": _summary([m.peak_memory_mb for m in measured]),
            "mfu": mfu,
            "runs": [m.__dict__ for m in measured],
        }
    if args.llamafactory:
        a, b = result["tools"][ours.name], result["tools"][LlamaFactory.name]
        result["ratio"] = {
            "wall (stockade / llamafactory)": _ratio(a["wall_s"]["median"], b["wall_s"]["median"]),
            "tokens_per_s (stockade / llamafactory)": _ratio(
                a["tokens_per_s"]["median"], b["tokens_per_s"]["median"]
            ),
        }
    text = json.dumps(result, indent=2, default=str)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n", encoding="utf-8")
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        with args.md.open("a", encoding="utf-8") as out:
            out.write(markdown(result) + "\n")
    return result


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| tool | wall s (median, min..max) | steady real tokens/s (median, min..max) | steps | final loss |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, tool in result["tools"].items():
        wall, tps = tool["wall_s"], tool["tokens_per_s"]
        losses = ", ".join(f"{x:.4f}" for x in tool["final_loss"] if x is not None)
        lines.append(
            f"| `{name}` | {wall['median']} ({wall['min']}..{wall['max']}) | {tps['median']} "
            f"({tps['min']}..{tps['max']}) | {tool['steps']} | {losses} |"
        )
    for key, value in result.get("ratio", {}).items():
        lines.append(f"\n{key}: **{value}**")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
