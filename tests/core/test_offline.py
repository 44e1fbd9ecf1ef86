"""The offline guard: the policy is tested with addresses only; no socket is ever opened."""

from __future__ import annotations

import sys

import pytest

from stockade.core import offline
from stockade.core.errors import ConfigError, EgressBlocked

POLICY = offline.EgressPolicy.from_entries(["10.8.0.0/16", "fd00:1::/64", "models.intranet"])


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        (("127.0.0.1", 5000), True),
        (("127.8.9.10", 80), True),
        (("::1", 443, 0, 0), True),
        (("::ffff:127.0.0.1", 80, 0, 0), True),
        (("localhost", 80), True),
        (("0.0.0.0", 80), True),  # noqa: S104 - connecting to it reaches this host
        ("/run/stockade.sock", True),
        (b"\0abstract", True),
        ((0, 0), True),  # AF_NETLINK
        (("10.8.3.4", 443), True),
        (("10.9.0.1", 443), False),
        (("fd00:1::5", 443, 0, 0), True),
        (("fd00:2::5", 443, 0, 0), False),
        (("models.intranet", 443), True),
        (("huggingface.co", 443), False),
        (("8.8.8.8", 53), False),
        (("192.168.1.10", 22), False),
        (("2001:4860:4860::8888", 53, 0, 0), False),
        (("::ffff:8.8.8.8", 53, 0, 0), False),
        (None, False),
    ],
)
def test_policy(address: object, allowed: bool) -> None:
    assert offline.is_allowed(address, POLICY) is allowed


def test_default_policy_is_loopback_only() -> None:
    empty = offline.EgressPolicy()
    assert offline.is_allowed(("127.0.0.1", 1), empty)
    assert not offline.is_allowed(("10.8.3.4", 443), empty)


def test_bad_allowlist_entry_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="egress_allowlist"):
        offline.EgressPolicy.from_entries(["10.0.0.0/8", "http://proxy:8080"])


@pytest.mark.parametrize(
    ("event", "args"),
    [
        ("socket.connect", (None, ("203.0.113.9", 443))),
        ("socket.sendto", (None, ("203.0.113.9", 53))),
        ("socket.getaddrinfo", ("huggingface.co", 443, 0, 0, 0)),
        ("socket.gethostbyname", ("cdn.example.com",)),
    ],
)
def test_hook_refuses_through_audit_events(event: str, args: tuple) -> None:
    # sys.audit raises the same event a real call would, without any network I/O.
    with pytest.raises(EgressBlocked) as caught:
        sys.audit(event, *args)
    assert __name__ in caught.value.module  # names the calling module
    assert isinstance(caught.value, ConnectionError)


def test_hook_lets_loopback_through() -> None:
    sys.audit("socket.connect", None, ("127.0.0.1", 5000))
    sys.audit("socket.getaddrinfo", "localhost", 80, 0, 0, 0)


def test_reporter_sees_refusals_and_failures_do_not_open_the_door() -> None:
    seen: list[tuple[str, str]] = []

    def reporter(address: str, module: str) -> None:
        seen.append((address, module))
        raise RuntimeError("reporter broke")

    offline.set_reporter(reporter)
    try:
        with pytest.raises(EgressBlocked):
            sys.audit("socket.connect", None, ("198.51.100.4", 80))
    finally:
        offline.set_reporter(None)
    assert seen and seen[0][0] == "198.51.100.4:80"
    assert __name__ in seen[0][1]


def test_status_reports_active_guard_without_reporting_the_probe() -> None:
    seen: list[str] = []
    offline.set_reporter(lambda address, module: seen.append(address))
    try:
        status = offline.status()
    finally:
        offline.set_reporter(None)
    assert status.active
    assert seen == []


def test_activate_forces_offline_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("WANDB_MODE", "online")
    assert "HF_HUB_OFFLINE" in offline.status().variables_missing
    offline.activate()
    assert offline.status().variables_missing == []
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["WANDB_MODE"] == "disabled"


LORA_SETUP = """
import logging
from stockade.core import offline
offline.activate()
from stockade.training.model_setup import load_for_training  # the training setup of a plain LoRA run
import peft  # what _apply_lora imports: peft imports bitsandbytes, which asks the Hub for a kernel
from peft import LoraConfig
# what bitsandbytes (offline, nothing cached) and kernels log, on machines where they get that far
logging.getLogger("bitsandbytes.backends.cpu.ops").warning(
    "Failed to load CPU gemm_4bit_forward from kernels-community: Version 1 of "
    "'kernels-community/quantization-bitsandbytes' is not available in the local cache and Hugging Face "
    "Hub is in offline mode. Download the kernel while online first"
)
logging.getLogger("kernels._internals.hf_hub").warning(
    "Skipping publisher trust check for 'x/y' because Hugging Face Hub is in offline mode."
)
logging.getLogger("bitsandbytes.nn").warning("an unrelated warning still prints")
"""


def test_plain_lora_setup_prints_no_hub_message() -> None:
    """Issue 15 item 6: every training run printed bitsandbytes' "download the kernel while online"."""
    import subprocess

    pytest.importorskip("peft")
    done = subprocess.run([sys.executable, "-c", LORA_SETUP], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lowered = done.stderr.lower()
    assert not [word for word in ("huggingface", "hugging face", "hub", "download") if word in lowered], (
        done.stderr
    )
    assert "an unrelated warning still prints" in done.stderr
