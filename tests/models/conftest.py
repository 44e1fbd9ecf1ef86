"""Fixtures shared by the model-store tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def context(workspace_dir: Path) -> Iterator:
    """The test workspace, opened as a command opens it."""
    from stockade.workspace.service import open_workspace

    with open_workspace(workspace_dir) as opened:
        yield opened
