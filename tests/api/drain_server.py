"""Run by test_drain.py in a subprocess: the tiny model behind the real server runner, until SIGTERM."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from stockade.core import offline


def main(model_dir: str) -> None:
    offline.activate()
    from stockade.api.app import create_app
    from stockade.api.server import drain_hook, uvicorn_server
    from stockade.data.templates import resolve_template
    from tests.serving.helpers import FixedTokenAuthenticator, load_tiny, make_engine

    model, tokenizer = load_tiny(Path(model_dir))
    engine = make_engine(model, tokenizer, eos_token_ids=frozenset())  # always the full 300 tokens
    app = create_app(
        engine,
        authenticator=FixedTokenAuthenticator(),
        template=resolve_template("qwen", tokenizer),
        model_id="tiny@v1",
    )
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    server = uvicorn_server(app, host="127.0.0.1", port=port, on_drain=drain_hook(app), drain_timeout=60)
    print(f"READY {port}", flush=True)
    server.run()
    engine.stop()
    print(f"EXITED drained={app.state.served.draining}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
