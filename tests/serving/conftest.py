from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stockade.models.tiny import build_tiny_model

    return build_tiny_model("qwen2", tmp_path_factory.mktemp("serving") / "qwen2").path


@pytest.fixture(scope="session")
def tiny(tiny_model_dir: Path):
    from tests.serving.helpers import load_tiny

    return load_tiny(tiny_model_dir)
