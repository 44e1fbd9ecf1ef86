"""The offline guard: nothing leaves the machine.

``activate()`` runs in every entry point. It

* sets the offline switches of the Hugging Face stack and turns off every dependency's
  telemetry (environment variables those libraries read at import time),
* keeps optional kernels' Hugging Face Hub messages off the terminal (:mod:`stockade.core.hub_messages`), and
* installs a ``sys.addaudithook`` hook that refuses DNS look-ups and socket connections to
  any address outside loopback and the ``egress_allowlist`` from settings, raising
  :class:`EgressBlocked` naming the address and the calling module.

Python has no supported way to remove an audit hook, so the hook is installed once and
reads a module-level policy that ``activate()`` may update. The policy is a plain
function, :func:`is_allowed`, so tests check it with addresses and never open a socket.
"""

from __future__ import annotations

import ipaddress
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from stockade.core import environment
from stockade.core.errors import ConfigError, EgressBlocked
from stockade.core.hub_messages import translate_hub_messages

# Variables set (forced, not defaulted: fail closed) before any library is imported.
OFFLINE_VARIABLES: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "WANDB_MODE": "disabled",
    "WANDB_DISABLED": "true",
    "VLLM_NO_USAGE_STATS": "1",
    "VLLM_DO_NOT_TRACK": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "BITSANDBYTES_NOWELCOME": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "SCARF_NO_ANALYTICS": "true",
}

# Names that always mean this machine.
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})

# Frames in these modules are plumbing; the "calling module" is the first frame outside them.
_PLUMBING_PREFIXES = (
    "socket",
    "ssl",
    "selectors",
    "asyncio",
    "http.",
    "urllib.",
    "urllib3",
    "requests",
    "httpx",
    "httpcore",
    "h11",
    "anyio",
    "concurrent.",
    "threading",
    "stockade.core.offline",
    "importlib",
)

Address = object
Reporter = Callable[[str, str], None]


@dataclass
class EgressPolicy:
    """Which non-loopback destinations are allowed (parsed from settings)."""

    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = field(default_factory=list)
    hostnames: frozenset[str] = frozenset()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> EgressPolicy:
        networks, hostnames, bad = [], set(), []
        for entry in entries:
            text = str(entry).strip()
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
                continue
            except ValueError:
                pass
            if all(part.replace("-", "").isalnum() for part in text.split(".")):
                hostnames.add(text.lower())
            else:
                bad.append(text)
        if bad:
            raise ConfigError(
                f"egress_allowlist entries are neither CIDRs, IP addresses nor host names: {bad}",
                where="stockade.yaml: egress_allowlist",
                fix="use entries such as 10.8.0.0/16, 10.8.1.5 or models.intranet.example",
            )
        return cls(networks=networks, hostnames=frozenset(hostnames))


def _host_allowed(host: object, policy: EgressPolicy) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("idna", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip().rstrip(".").lower()
    if name in ("", *LOCAL_NAMES):
        return True
    try:
        ip = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return name in policy.hostnames
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    if ip.is_loopback or ip.is_unspecified:  # 0.0.0.0 / :: connect to this host
        return True
    return any(ip in network for network in policy.networks)


def is_allowed(address: Address, policy: EgressPolicy | None = None) -> bool:
    """Is a socket address (as passed to ``connect``/``sendto``) a permitted destination?"""
    policy = policy or _state.policy
    if isinstance(address, (str, bytes)):  # AF_UNIX path or abstract name: stays on this machine
        return True
    if isinstance(address, tuple) and address:
        host = address[0]
        if isinstance(host, int):  # AF_NETLINK (pid, groups): the local kernel
            return True
        return _host_allowed(host, policy)
    return False


def describe(address: Address) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if isinstance(host, str) and ":" in host else f"{host}:{port}"
    return repr(address)


def calling_module(skip: int = 0) -> str:
    """The first module on the stack that is not network plumbing, with its line number."""
    frame = sys._getframe(1 + skip)
    fallback = None
    while frame is not None:
        name = frame.f_globals.get("__name__", "?")
        if fallback is None and name != __name__:
            fallback = f"{name}:{frame.f_lineno}"
        if not name.startswith(_PLUMBING_PREFIXES) and name not in ("socket", "ssl"):
            return f"{name}:{frame.f_lineno}"
        frame = frame.f_back
    return fallback or "?"


class _GuardState:
    def __init__(self) -> None:
        self.policy = EgressPolicy()
        self.installed = False
        self.reporter: Reporter | None = None
        self.local = threading.local()


_state = _GuardState()


def _report(address: str, module: str) -> None:
    reporter = _state.reporter
    if reporter is None or getattr(_state.local, "reporting", False):
        return
    _state.local.reporting = True
    try:
        reporter(address, module)
    except Exception:  # noqa: S110 - a failing reporter must never let the connection through
        pass
    finally:
        _state.local.reporting = False


def _refuse(address: str) -> None:
    module = calling_module(skip=2)
    _report(address, module)
    raise EgressBlocked(address, module)


def _hook(event: str, args: tuple) -> None:
    if not event.startswith("socket."):
        return
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        address = args[1]
        if address is not None and not is_allowed(address):
            _refuse(describe(address))
    elif event == "socket.getaddrinfo" and not _host_allowed(args[0], _state.policy):
        _refuse(describe((args[0], args[1])))
    elif event in ("socket.gethostbyname", "socket.gethostbyaddr") and not _host_allowed(
        args[0], _state.policy
    ):
        _refuse(str(args[0]))


def activate(allowlist: Iterable[str] = ()) -> None:
    """Switch the process to offline mode. Safe to call more than once."""
    environment.set_variables(OFFLINE_VARIABLES)
    translate_hub_messages()
    _state.policy = EgressPolicy.from_entries(allowlist)
    if not _state.installed:
        sys.addaudithook(_hook)
        _state.installed = True


def set_reporter(reporter: Reporter | None) -> None:
    """Called with (address, module) for every refusal, e.g. to write an audit record."""
    _state.reporter = reporter


@dataclass
class GuardStatus:
    hook_installed: bool
    probe_blocked: bool
    variables_missing: list[str]

    @property
    def active(self) -> bool:
        return self.hook_installed and self.probe_blocked and not self.variables_missing


def status() -> GuardStatus:
    """Check the guard without touching the network.

    The probe raises the audit event a real ``connect`` would raise (``sys.audit``) for a
    TEST-NET address, so even a broken hook sends no packet.
    """
    blocked = False
    reporter, _state.reporter = _state.reporter, None
    try:
        sys.audit("socket.connect", None, ("192.0.2.1", 9))
    except EgressBlocked:
        blocked = True
    finally:
        _state.reporter = reporter
    missing = [k for k, v in OFFLINE_VARIABLES.items() if environment.read_variable(k) != v]
    return GuardStatus(hook_installed=_state.installed, probe_blocked=blocked, variables_missing=missing)
