"""The training benchmark drives `stockade train` itself (one engine), and reads both tools' logs alike."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from stockade.bench import train as bench

SRC = Path(bench.__file__).resolve().parents[1]


def test_one_training_loop_in_the_code_base() -> None:
    """Backward passes and optimizer steps happen in stockade.training only; the benchmark has none."""
    backward = re.compile(r"\.backward\(|optimizer\.step\(|\.zero_grad\(")
    places = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if backward.search(path.read_text(encoding="utf-8"))
    )
    assert places and all(place.startswith("training/") for place in places), places
    text = Path(bench.__file__).read_text(encoding="utf-8")
    assert '"-m", "stockade"' in text and '"train"' in text  # it runs the CLI


def test_steady_state_leaves_out_the_warm_up_steps() -> None:
    points = [(10.0, 100.0), (11.0, 300.0), (12.0, 500.0), (13.0, 700.0)]
    assert bench.steady_tokens_per_s(points, 0) == pytest.approx(200.0)
    assert bench.steady_tokens_per_s(points, 1) == pytest.approx(200.0)
    assert bench.steady_tokens_per_s(points, 3) is None  # nothing left to time


FAKE_LLAMAFACTORY = """\
import json, pathlib, sys, yaml
config = yaml.safe_load(pathlib.Path(sys.argv[2]).read_text())
assert sys.argv[1] == "train" and config["include_num_input_tokens_seen"] == "non_padding"
assert config["dataset"] == "bench" and (pathlib.Path(config["dataset_dir"]) / "dataset_info.json").is_file()
out = pathlib.Path(config["output_dir"]); out.mkdir(parents=True, exist_ok=True)
lines = [
    {"current_steps": s, "loss": 3.0 - s / 10, "total_tokens": 400 * s, "throughput": 400 * s / (2 + s)}
    for s in range(1, 6)
]
(out / "trainer_log.jsonl").write_text("".join(json.dumps(x) + "\\n" for x in lines))
"""


def test_llamafactory_log_is_read_as_real_tokens_over_time(tmp_path: Path) -> None:
    """A stand-in for llamafactory-cli that writes trainer_log.jsonl as LLaMA-Factory 0.9.5 does."""
    cli = tmp_path / "llamafactory-cli"
    cli.write_text(f"#!{sys.executable}\n{FAKE_LLAMAFACTORY}", encoding="utf-8")
    cli.chmod(0o755)
    data = tmp_path / "data.json"
    data.write_text(json.dumps([{"instruction": "q", "input": "", "output": "a"}]), encoding="utf-8")
    args = bench.parse_args(["--llamafactory", str(cli), "--warmup-steps", "1"])
    peer = bench.LlamaFactory(tmp_path, args, str(cli))
    peer.setup(data)
    measured = peer.measure(bench.common_keys(args, tmp_path / "model"), 0)
    # elapsed = tokens / throughput = 2 + step: 400 tokens a second after the first step
    assert measured.tokens_per_s == pytest.approx(400.0)
    assert measured.steps == 5 and measured.final_loss == pytest.approx(2.5)
    assert measured.wall_s > 0


@pytest.mark.slow
def test_tiny_cpu_run_goes_through_stockade_train(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    md = tmp_path / "bench.md"
    result = bench.main(
        [
            "--repeats", "1", "--max-steps", "4", "--max-samples", "24", "--accumulation", "1",
            "--warmup-steps", "1", "--cutoff-len", "256", "--work", str(tmp_path / "work"),
            "--json-out", str(out), "--md", str(md), "--threads", "1",
        ]
    )  # fmt: skip
    assert json.loads(out.read_text()) == json.loads(json.dumps(result, default=str))
    ours = result["tools"]["stockade train"]
    run = ours["runs"][0]
    assert run["steps"] == 4 and run["tokens_per_s"] > 0 and run["wall_s"] > 0
    assert run["extra"]["recipe"]["recipe.packing"].startswith("off: one example per row (default on CPU")
    assert (
        "stockade" in result["commands"]["stockade train"]
        and " train " in result["commands"]["stockade train"]
    )
    assert "`stockade train`" in md.read_text()
    # the workspace run is a real one: its row, lineage and metrics exist
    runs = list((tmp_path / "work" / "ws" / "runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "metrics.jsonl").is_file()
