"""Console output shared by the command modules (rich; markup off for user data)."""

from __future__ import annotations

import codecs
import json
import os
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from stockade.cli.state import state

ENCODE_ERRORS = "stockade-replace"
UNENCODABLE_WARNING = (
    "warning: this terminal's encoding ({encoding}) cannot show some characters; they are printed as '?'. "
    "For full output use a UTF-8 locale: export LANG=zh_CN.UTF-8 (or C.UTF-8); `stockade doctor` checks it\n"
)
_warned = False


def _replace_and_warn_once(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: '?' for each character the encoding lacks; the first time, a warning."""
    global _warned
    if not isinstance(error, UnicodeEncodeError):
        raise error
    if not _warned:
        _warned = True
        # straight to the file descriptor: this runs inside a stream's write, which must not be re-entered
        os.write(2, UNENCODABLE_WARNING.format(encoding=error.encoding).encode("ascii", "replace"))
    return "?" * (error.end - error.start), error.end


codecs.register_error(ENCODE_ERRORS, _replace_and_warn_once)


def tolerate_unencodable_output() -> None:
    """Under a locale that is not UTF-8 (GBK: the deployment guide's 中文乱码 case), a character the
    terminal cannot encode prints as '?', with one warning, instead of crashing the command."""
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None) or ""
        try:
            if codecs.lookup(encoding).name == "utf-8":
                continue
        except LookupError:
            pass
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors=ENCODE_ERRORS)


console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)

STATUS_STYLE = {
    "pass": "green",
    "warn": "yellow",
    "fail": "red",
    "ok": "green",
    "denied": "yellow",
    "error": "red",
}


def print_json(value: Any) -> None:
    """Plain JSON on stdout (no colour codes), for machines."""
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def status_text(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


def new_table(*columns: str, title: str | None = None) -> Table:
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def print_error(message: str) -> None:
    errors.print(f"[bold red]Error:[/] {escape(message)}", soft_wrap=True)


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def acting_user_line(name: str, role: str | None) -> str:
    """The one line a state-changing command prints about who it acts as."""
    return f"as {name} (roles: {role})" if role else f"as {name} (OS user, not logged in)"


def _on_audit_record(_mapper: Any, _connection: Any, record: Any) -> None:
    if state.show_actor and not state.actor_shown:
        state.actor_shown = True
        errors.print(escape(acting_user_line(record.actor, record.role)), soft_wrap=True)


def show_acting_user() -> None:
    """From now until the command ends, its first audit record prints "as NAME (roles: ...)" on
    stderr. Every state change writes an audit record (services do, with the acting user), so every
    state-changing command — and every refusal that is audited — says once whom it acted as."""
    from sqlalchemy import event

    from stockade.storage.tables import AuditRecord

    state.show_actor, state.actor_shown = True, False
    if not event.contains(AuditRecord, "after_insert", _on_audit_record):
        event.listen(AuditRecord, "after_insert", _on_audit_record)


def stop_showing_acting_user() -> None:
    state.show_actor = False
