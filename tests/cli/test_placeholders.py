"""A placeholder command answers every form the same way (issue 15 item 3): none is pending in this
build (`webui` became real with issue 19), so the mechanism is checked with a stand-in entry."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from stockade.cli import placeholders
from stockade.core.errors import NotAvailableYet


@pytest.mark.parametrize(
    "args", [[], ["--port", "7860"], ["--host", "127.0.0.1", "--port=7860", "extra"], ["launch", "--share"]]
)
def test_a_pending_command_says_so_in_every_form(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    monkeypatch.setattr(
        placeholders, "PENDING", {"later": placeholders.Pending("Later.", "run `stockade train`")}
    )
    app = typer.Typer()
    app.command("other")(lambda: None)
    placeholders.register(app)
    result = CliRunner().invoke(app, ["later", *args])
    assert isinstance(result.exception, NotAvailableYet), result.output
    assert "not in this build yet" in str(result.exception) and "stockade train" in str(result.exception)
    assert result.exception.exit_code == 2
