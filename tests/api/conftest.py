from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving.helpers import FixedTokenAuthenticator, LiveServer, load_tiny, make_engine, serve_live

pytest.importorskip("torch")
pytest.importorskip("fastapi")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stockade.models.tiny import build_tiny_model

    return build_tiny_model("qwen2", tmp_path_factory.mktemp("serving") / "qwen2").path


@pytest.fixture(scope="session")
def tiny(tiny_model_dir: Path):
    return load_tiny(tiny_model_dir)


def build_app(tiny, **kwargs):
    from stockade.api.app import create_app
    from stockade.data.templates import resolve_template

    model, tokenizer = tiny
    engine_options = kwargs.pop("engine", {})
    engine = make_engine(model, tokenizer, **engine_options)
    options = {
        "authenticator": FixedTokenAuthenticator(),
        "template": resolve_template("qwen", tokenizer),
        "model_id": "tiny@v1",
    }
    options.update(kwargs)
    return create_app(engine, **options), engine


@pytest.fixture(scope="module")
def live(tiny) -> Iterator[LiveServer]:
    app, engine = build_app(tiny)
    server = serve_live(app)
    yield server
    server.stop()
    engine.stop()
