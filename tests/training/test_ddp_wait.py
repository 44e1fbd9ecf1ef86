"""The DDP check's parent never waits forever: a rank stuck in gloo's teardown after every result is
written is stopped after a grace period, and ranks that write nothing are stopped with an error."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from stockade.training import ddp_check


class _Process:
    def __init__(self) -> None:
        self.alive = True
        self.killed = False

    def is_alive(self) -> bool:
        return self.alive

    def kill(self) -> None:
        self.killed = True
        self.alive = False

    def join(self) -> None:
        assert not self.alive


class _Context:
    """A spawn context whose first rank has exited and whose second never does (the teardown hang)."""

    def __init__(self) -> None:
        self.processes = [_Process(), _Process()]
        self.processes[0].alive = False
        self.joins = 0

    def join(self, timeout: float) -> bool:
        self.joins += 1
        return False


def test_a_rank_stuck_after_every_result_is_written_is_stopped(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(ddp_check, "TEARDOWN_GRACE_S", 0.0)
    results = [tmp_path / "rank0.json", tmp_path / "rank1.json"]
    for path in results:
        path.write_text("{}")
    context = _Context()
    ddp_check._wait(context, results, timeout_s=120)
    assert context.processes[1].killed and not context.processes[0].killed


def test_ranks_that_write_nothing_are_stopped_with_an_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(ddp_check.time, "monotonic", itertools.count(0, 100).__next__)
    context = _Context()
    with pytest.raises(TimeoutError, match="no result within 61 s"):
        ddp_check._wait(context, [tmp_path / "rank0.json", tmp_path / "rank1.json"], timeout_s=1)
    assert context.processes[1].killed


def test_ranks_that_finish_are_simply_joined(tmp_path: Path) -> None:
    class Finished(_Context):
        def join(self, timeout: float) -> bool:
            return True

    context = Finished()
    ddp_check._wait(context, [tmp_path / "rank0.json"], timeout_s=120)
    assert not any(process.killed for process in context.processes)
