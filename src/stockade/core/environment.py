"""Everything Stockade reads from the process environment, in one place.

The architecture allows only the ``core`` layer to read environment variables; other
layers ask these functions.
"""

from __future__ import annotations

import contextlib
import locale
import os
import pwd
import socket
from collections.abc import Iterator
from pathlib import Path

HOME_VARIABLE = "STOCKADE_HOME"
CACHE_VARIABLE = "STOCKADE_CACHE_DIR"
NATIVE_VARIABLE = "STOCKADE_NATIVE"
#: Read by setup.py: ``0`` builds Stockade's wheel without its optional C extension (pure Python).
BUILD_NATIVE_VARIABLE = "STOCKADE_BUILD_NATIVE"
DEFAULT_WORKSPACE_NAME = "stockade-workspace"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def stockade_home() -> Path | None:
    """The workspace named by ``$STOCKADE_HOME``, if set."""
    value = os.environ.get(HOME_VARIABLE, "").strip()
    return Path(value).expanduser() if value else None


def cache_location() -> Path | None:
    """Where derived files that are safe to delete are kept (``core.derived_cache``):
    ``$STOCKADE_CACHE_DIR``, else ``$XDG_CACHE_HOME/stockade``, else ``~/.cache/stockade``;
    None when ``STOCKADE_CACHE_DIR=off`` (nothing is cached then)."""
    value = os.environ.get(CACHE_VARIABLE, "").strip()
    if value.lower() == "off":
        return None
    if value:
        return Path(value).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg:
        return Path(xdg) / "stockade"
    try:
        return Path.home() / ".cache" / "stockade"
    except RuntimeError:  # no home directory (a service account without one): no cache
        return None


def native_code_enabled() -> bool:
    """Whether the optional C extensions may be used where they are built; ``STOCKADE_NATIVE=off``
    (or ``0``) turns them off, and the same work runs in Python (same results, slower)."""
    return os.environ.get(NATIVE_VARIABLE, "").strip().lower() not in ("off", "0", "false", "no")


@contextlib.contextmanager
def variables_set(values: dict[str, str]) -> Iterator[None]:
    """``values`` in the environment (of this process and the ones it starts) for the ``with``
    block, then the previous values back."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def os_user() -> str:
    """The operating-system account running this process (the actor until accounts exist)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return f"uid:{os.getuid()}"


def host_name() -> str:
    return socket.gethostname()


def locale_settings() -> dict[str, str]:
    """The locale variables that decide how text is encoded, and Python's preferred encoding."""
    found = {name: os.environ[name] for name in ("LC_ALL", "LC_CTYPE", "LANG") if os.environ.get(name)}
    found["preferred_encoding"] = locale.getpreferredencoding(False)
    return found


def proxy_settings() -> dict[str, str]:
    """Proxy variables that would route library traffic elsewhere."""
    return {name: os.environ[name] for name in PROXY_VARIABLES if os.environ.get(name)}


def read_variable(name: str) -> str | None:
    return os.environ.get(name)


def set_variables(values: dict[str, str]) -> None:
    os.environ.update(values)


def distributed_topology() -> tuple[int, int, int]:
    """(rank, world size, local rank) that torchrun or accelerate set for this process; (0, 1, 0) alone."""

    def number(name: str, default: int) -> int:
        value = os.environ.get(name, "").strip()
        return int(value) if value.isdigit() else default

    return number("RANK", 0), number("WORLD_SIZE", 1), number("LOCAL_RANK", 0)


def launcher_engines() -> list[str]:
    """Sharding engines that `accelerate launch` asked this process for (ACCELERATE_USE_*)."""
    engines = {"ACCELERATE_USE_DEEPSPEED": "deepspeed", "ACCELERATE_USE_FSDP": "fsdp"}
    return [name for key, name in engines.items() if os.environ.get(key, "").lower() in ("1", "true")]
