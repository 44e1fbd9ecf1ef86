"""The one exception tree.

Every error a user can see says *what* went wrong, *where* (file, record, field, address)
and *how to fix it*. The CLI prints ``str(error)`` without a traceback and exits with
``error.exit_code``; ``--debug`` shows the traceback.
"""

from __future__ import annotations


class StockadeError(Exception):
    """Base of every error Stockade raises on purpose."""

    exit_code = 1

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        text = f"{self.where}: {self.what}" if self.where else self.what
        if self.fix:
            text += f"\n  How to fix: {self.fix}"
        return text


class ConfigError(StockadeError):
    """A settings or spec file (or a CLI override) is invalid. Exit code 2, like a usage error."""

    exit_code = 2


class WorkspaceError(StockadeError):
    """The workspace is missing, not a workspace, or not usable."""


class DatabaseError(StockadeError):
    """The database cannot be reached or is not at the expected schema."""


class AuditError(StockadeError):
    """The audit log cannot be written or read."""


class ModelReferenceError(StockadeError):
    """A model reference (path, NAME@vN or hub id) cannot be resolved offline."""

    exit_code = 2


class DependencyMissing(StockadeError):
    """An optional dependency (an extra such as ``train``) is not installed."""


class NotAvailableYet(StockadeError):
    """A command exists but its engine has not landed in this build."""

    exit_code = 2


class EgressBlocked(StockadeError, ConnectionError):
    """A network connection to an address outside loopback and the allowlist was refused.

    It is also a ``ConnectionError`` so that libraries that handle network failures treat
    it as one, while the guard still records it.
    """

    def __init__(self, address: str, module: str) -> None:
        self.address = address
        self.module = module
        super().__init__(
            f"network egress to {address} blocked by the offline guard",
            where=module,
            fix="Stockade never talks to non-loopback addresses. If this address is an internal "
            "service you trust, add it to `egress_allowlist` in stockade.yaml.",
        )
