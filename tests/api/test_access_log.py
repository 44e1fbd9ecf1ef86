"""The server's access log: one structured line per request, the request id in the header and the audit
record, no prompt or output text, rotation by size and age."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import httpx
import pytest

from stockade.api.access_log import ACCESS_FILE, SizeAndAgeRotatingHandler, access_logger, close_logger
from stockade.core.errors import ConfigError
from tests.api.conftest import build_app
from tests.serving.helpers import TOKEN, serve_live

AUTH = {"Authorization": f"Bearer {TOKEN}"}
SECRET = "Zhang San 110101199003077777 owes 4242"


class Recorder:
    def __init__(self) -> None:
        self.records: list[tuple[str, dict]] = []

    def record(self, action: str, target: str | None, *, result: str = "ok", **details) -> None:
        self.records.append((action, details))


def _lines(folder: Path) -> list[str]:
    return (folder / ACCESS_FILE).read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_one_line_per_request_without_prompt_or_output(tiny, tmp_path: Path, log_format: str) -> None:
    logger = access_logger(tmp_path, log_format)  # type: ignore[arg-type]
    audit = Recorder()
    app, engine = build_app(tiny, access_log=logger, audit=audit)
    server = serve_live(app)
    try:
        ok = httpx.post(
            f"{server.url}/v1/chat/completions?note={SECRET.replace(' ', '+')}",
            json={"messages": [{"role": "user", "content": SECRET}], "max_tokens": 4, "temperature": 0},
            headers=AUTH,
        )
        refused = httpx.post(f"{server.url}/generate", json={"inputs": SECRET})  # no credential
        health = httpx.get(f"{server.url}/health")
    finally:
        server.stop()
        engine.stop()
        close_logger(logger)
    assert ok.status_code == 200 and refused.status_code == 401 and health.status_code == 200
    ids = [r.headers["x-request-id"] for r in (ok, refused, health)]
    assert len(set(ids)) == 3 and all(len(i) == 32 for i in ids)
    output = ok.json()["choices"][0]["message"]["content"]
    text = (tmp_path / ACCESS_FILE).read_text(encoding="utf-8")
    for forbidden in (SECRET, "Zhang", "110101199003077777", "note=", TOKEN):
        assert forbidden not in text
    if output.strip():
        assert output.strip() not in text
    lines = _lines(tmp_path)
    assert len(lines) == 3
    if log_format == "text":
        assert lines[0].split()[1:6] == [ids[0], "key-test", "POST", "/v1/chat/completions", "200"]
        assert lines[1].split()[1:6] == [ids[1], "-", "POST", "/generate", "401"]
        return
    entries = [json.loads(line) for line in lines]
    assert set(entries[0]) == {
        "time",
        "request_id",
        "principal",
        "route",
        "method",
        "status",
        "latency_ms",
        "tokens_in",
        "tokens_out",
    }
    first, second, third = entries
    assert first["request_id"] == ids[0] and first["principal"] == "key-test"
    assert first["route"] == "/v1/chat/completions" and first["status"] == 200
    assert first["tokens_in"] > 0 and 0 < first["tokens_out"] <= 4 and first["latency_ms"] > 0
    assert second["request_id"] == ids[1] and second["principal"] is None and second["status"] == 401
    assert (third["route"], third["status"], third["tokens_in"]) == ("/health", 200, 0)
    # the same id in the serve.request audit record
    requests = [details for action, details in audit.records if action == "serve.request"]
    assert requests and requests[0]["request_id"] == ids[0]


def test_without_a_logger_the_header_is_still_sent(live) -> None:
    response = httpx.get(f"{live.url}/health")
    assert len(response.headers["x-request-id"]) == 32


def test_rotation_by_size_and_by_age(tmp_path: Path) -> None:
    logger = access_logger(tmp_path, "json", max_bytes=400, max_age=0, backups=2)
    record = {"access": {"time": "t", "request_id": "x" * 32, "route": "/generate", "status": 200}}
    for _ in range(20):
        logger.info("access", extra=record)
    close_logger(logger)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [ACCESS_FILE, f"{ACCESS_FILE}.1", f"{ACCESS_FILE}.2"]  # size: rotated, two kept
    assert all((tmp_path / name).stat().st_size <= 400 for name in files)
    assert oct(os.stat(tmp_path / ACCESS_FILE).st_mode & 0o777) == "0o600"

    aged = tmp_path / "aged"
    aged.mkdir()
    handler = SizeAndAgeRotatingHandler(aged / ACCESS_FILE, max_bytes=10**9, max_age=60, backups=3)
    line = logging.LogRecord("a", logging.INFO, "", 0, "one line", None, None)
    handler.emit(line)
    assert not (aged / f"{ACCESS_FILE}.1").exists()  # young and small: no rotation
    handler.opened = time.time() - 61  # a day in production; a minute here
    handler.emit(line)
    handler.close()
    assert (aged / f"{ACCESS_FILE}.1").read_text() == "one line\n"
    assert (aged / ACCESS_FILE).read_text() == "one line\n"


def test_an_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not json or text"):
        access_logger(tmp_path, "xml")  # type: ignore[arg-type]
