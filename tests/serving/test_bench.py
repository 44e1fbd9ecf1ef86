"""The serving benchmark runs end to end on CPU (tiny shape): server vs model.generate in the same run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")


def test_serve_bench_runs_and_compares_with_generate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from stockade.bench.serve import MIN_REQUESTS, main

    out = tmp_path / "serve.json"
    args = [
        "--shape",
        "tiny",
        "--device",
        "cpu",
        "--concurrency",
        "1,2",
        "--rounds",
        "1",
        "--new-tokens",
        "4",
        "--min-prompt",
        "8",
        "--max-prompt",
        "16",
        "--threads",
        "1",
        "--json-out",
        str(out),
    ]
    result = main(args)
    assert json.loads(out.read_text()) == result
    assert [level["concurrency"] for level in result["levels"]] == [1, 2]
    for level in result["levels"]:
        server, baseline = level["server"], level["baseline"]
        assert server["failed"] == 0 and server["requests"] == MIN_REQUESTS
        assert server["output_tokens"] == baseline["output_tokens"] == MIN_REQUESTS * 4
        assert baseline["batch"] == level["concurrency"]
        assert level["ratio"] == pytest.approx(
            server["output_tokens_per_s"] / baseline["output_tokens_per_s"], abs=0.01
        )
        assert server["ttft_ms_p50"] > 0 and server["e2e_ms_p99"] >= server["e2e_ms_p50"]
    assert result["engine"]["max_rows_in_pass"] == 2  # the concurrent requests shared forward passes
    table = capsys.readouterr().out
    assert "server tok/s" in table and "generate tok/s" in table
