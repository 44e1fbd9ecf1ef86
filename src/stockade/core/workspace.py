"""The workspace on disk: where it is, what folders it has, and its settings file.

Only files and folders live here; opening the database and writing audit events is the
job of the ``workspace`` service layer above.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from stockade.core import environment
from stockade.core.errors import WorkspaceError
from stockade.core.settings import Settings
from stockade.core.specs.loader import load_spec

SETTINGS_FILE = "stockade.yaml"
DATABASE_FILE = "stockade.db"
FOLDERS = ("models", "datasets", "runs", "audit", "pki", "logs", "configs")
DIRECTORY_MODE = 0o700
SECRET_FILE_MODE = 0o600

DEFAULT_SETTINGS_YAML = """\
# Stockade workspace settings. Every key: docs/configuration.md. Unknown keys are errors.

# SQLAlchemy URL of the database. Empty: SQLite in this folder (stockade.db, WAL mode).
# PostgreSQL (needs `pip install 'stockade[postgres]'`):
#   database_url: postgresql+psycopg://stockade:PASSWORD@127.0.0.1/stockade
database_url: null

# Non-loopback CIDRs / addresses / host names the offline guard lets through (default: none).
egress_allowlist: []

# `stockade doctor` fails when the models folder has less free space than this (GB).
min_free_disk_gb: 40

# Serve unapproved model versions. Announced on every response and in the audit log.
dev_mode: false

audit:
  # Keep audit records at least this many days (China's Cybersecurity Law art. 21: >= 6 months).
  retention_days: 180
"""


def default_location() -> Path:
    return environment.stockade_home() or Path.cwd() / environment.DEFAULT_WORKSPACE_NAME


@dataclass
class Workspace:
    root: Path

    @property
    def settings_path(self) -> Path:
        return self.root / SETTINGS_FILE

    @property
    def database_path(self) -> Path:
        return self.root / DATABASE_FILE

    def folder(self, name: str) -> Path:
        if name not in FOLDERS:
            raise ValueError(f"unknown workspace folder {name!r}")
        return self.root / name

    @cached_property
    def settings(self) -> Settings:
        return load_spec(Settings, self.settings_path)

    @property
    def database_url(self) -> str:
        return self.settings.database_url or f"sqlite:///{self.database_path}"

    @staticmethod
    def is_workspace(path: Path) -> bool:
        return (path / SETTINGS_FILE).is_file()

    @classmethod
    def locate(cls, explicit: Path | None = None) -> Workspace:
        """The workspace named by ``--workspace``, ``$STOCKADE_HOME`` or ``./stockade-workspace``."""
        root = (explicit or default_location()).expanduser().resolve()
        if not cls.is_workspace(root):
            raise WorkspaceError(
                "no Stockade workspace here (no stockade.yaml)",
                where=str(root),
                fix=f"create one with `stockade init {root}`, or point to yours with --workspace "
                "or STOCKADE_HOME",
            )
        return cls(root)


def create_layout(root: Path) -> list[str]:
    """Create the folders and the default settings file; return what was created.

    Never overwrites: an existing settings file is kept as it is. A non-empty folder that is
    not a workspace is refused, so nothing of someone else's is mixed in.
    """
    root = root.expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise WorkspaceError("exists and is not a folder", where=str(root), fix="choose another path")
    if root.is_dir() and any(root.iterdir()) and not Workspace.is_workspace(root):
        raise WorkspaceError(
            "the folder is not empty and is not a Stockade workspace",
            where=str(root),
            fix="choose an empty or new folder; Stockade never mixes its files into existing ones",
        )
    created: list[str] = []
    if not root.exists():
        root.mkdir(parents=True, mode=DIRECTORY_MODE)
        created.append(".")
    os.chmod(root, DIRECTORY_MODE)
    for name in FOLDERS:
        path = root / name
        if not path.exists():
            path.mkdir(mode=DIRECTORY_MODE)
            created.append(f"{name}/")
        os.chmod(path, DIRECTORY_MODE)
    settings = root / SETTINGS_FILE
    if not settings.exists():
        write_private_file(settings, DEFAULT_SETTINGS_YAML)
        created.append(SETTINGS_FILE)
    return created


PRIVACY_KEY_FILE = "pki/privacy-hmac.key"


def read_or_create_key(path: Path, size: int = 32) -> tuple[bytes, bool]:
    """A random secret key kept in a 0600 file; created on first use. Returns (key, created)."""
    import secrets

    if path.exists():
        key = path.read_bytes()
        if len(key) < size:
            raise WorkspaceError(
                "the key file is shorter than it must be (truncated?)",
                where=str(path),
                fix="restore it from backup; a new key would change every hashed and pseudonymised value",
            )
        return key, False
    key = secrets.token_bytes(size)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())
    return key, True


def write_private_file(path: Path, text: str) -> None:
    """Create a file readable by its owner only (0600) without a window where it is wider."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
