"""The LLaMA-Factory comparison bench: its arguments, and the Stockade-only path against the real
``stockade serve`` process (LLaMA-Factory itself is not installed in CI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("httpx")


def test_prompts_are_the_same_for_a_seed_and_differ_across_seeds() -> None:
    from stockade.bench.serve_llamafactory import make_prompts

    assert make_prompts(8, 0) == make_prompts(8, 0)
    assert make_prompts(8, 0) != make_prompts(8, 1)
    assert len(set(make_prompts(64, 0))) > 32


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--requests", "0"], "--requests must be at least 1"),
        (["--max-tokens", "0"], "--max-tokens must be at least 1"),
        (["--warmup", "-1"], "--warmup must be 0 or more"),
        (["--llamafactory", "/nonexistent/llamafactory-cli"], "is not a file"),
    ],
)
def test_bad_arguments_are_refused_by_name(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from stockade.bench.serve_llamafactory import parse_args

    with pytest.raises(SystemExit):
        parse_args(argv)
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_stockade_alone_answers_every_request_over_http(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from stockade.bench.serve_llamafactory import main

    out = tmp_path / "lf.json"
    argv = ["--requests", "4", "--concurrency", "2", "--max-tokens", "8", "--rounds", "1", "--warmup", "1"]
    result = main([*argv, "--json-out", str(out)])
    assert json.loads(out.read_text()) == result
    assert "llamafactory" not in result and "ratio" not in result
    stockade = result["stockade"]
    assert stockade["failed"] == 0 and len(stockade["rounds"]) == 1
    measured = stockade["rounds"][0]
    assert measured["ok"] == 4 and measured["statuses"] == {"200": 4}
    assert 4 <= measured["output_tokens"] <= 4 * 8  # the server's own usage counts, max_tokens honoured
    assert measured["server_cpu_s"] > 0 and stockade["output_tokens_per_s"] > 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert json.loads(printed[-1]) == result
    assert any(line.startswith("stockade") for line in printed)
