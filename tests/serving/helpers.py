"""Shared by the serving and API tests: a tiny model, an engine over it, a live uvicorn server."""

from __future__ import annotations

import hmac
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stockade.security.principal import AuthenticationFailed, Principal

TOKEN = "test-token-0123456789"


class FixedTokenAuthenticator:
    """Test-only: one fixed bearer token (compared in constant time), optionally limited to some models."""

    def __init__(self, token: str = TOKEN, models: frozenset[str] | None = None) -> None:
        self.token = token
        self.models = models

    def authenticate(self, authorization: str | None, client_address: str) -> Principal:
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), self.token.encode()):
            raise AuthenticationFailed("invalid or missing bearer token", reason="invalid")
        return Principal("tester", frozenset({"api_client"}), "api_key", "key-test", self.models)


def train_adapter(base: Path, question: str, answer: str, run_dir: Path, *, cutoff_len: int) -> Path:
    """A LoRA adapter on ``base`` that answers ``question`` with ``answer``: 40 steps of the training
    service on that one conversation (a few seconds on a tiny model)."""
    from transformers import AutoTokenizer

    from stockade.core.specs.train import TrainSpec
    from stockade.data.records import Conversation
    from stockade.data.templates import resolve_template
    from stockade.data.tokenization import encode_conversation
    from stockade.training.loop import TrainInputs, run_training

    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    conversation = Conversation.model_validate(
        {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}
    )
    template = resolve_template("qwen", tokenizer)
    example = encode_conversation(conversation, tokenizer, template, cutoff_len=cutoff_len)
    spec = TrainSpec.model_validate(
        {
            "finetuning_type": "lora",
            "lora_rank": 8,
            "learning_rate": 5e-3,
            "per_device_train_batch_size": 1,
            "max_steps": 40,
            "lr_scheduler_type": "constant",
            "precision": "fp32",
            "gradient_checkpointing": False,
            "logging_steps": 10,
            "save_steps": 10000,
            "seed": 7,
            "cutoff_len": cutoff_len,
        }
    )
    pad = tokenizer.pad_token_id
    inputs = TrainInputs(
        model_dir=base, spec=spec, train=[example], eval=[], run_dir=run_dir, pad_token_id=pad
    )
    result = run_training(inputs)
    assert result.status == "completed"
    return result.adapter_dir


def load_tiny(path: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True).eval()
    return model, tokenizer


def make_engine(model: Any, tokenizer: Any, **kwargs: Any) -> Any:
    from stockade.serving.hf_engine import HFEngine
    from stockade.serving.hf_loader import eos_token_ids

    options = {
        "model_id": "tiny@v1",
        "context": 512,
        "max_batch_size": 4,
        "max_waiting": 16,
        "eos_token_ids": eos_token_ids(model, tokenizer),
    }
    options.update(kwargs)
    engine = HFEngine(model, tokenizer, **options)
    engine.start()
    return engine


@dataclass
class LiveServer:
    url: str
    server: Any
    thread: threading.Thread
    app: Any

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def serve_live(app: Any) -> LiveServer:
    """Run ``app`` under uvicorn on 127.0.0.1 (a free port) in a thread; returns once it accepts."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio sets TCP_NODELAY
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return LiveServer(f"http://127.0.0.1:{port}", server, thread, app)
