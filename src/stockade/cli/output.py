"""Console output shared by the command modules (rich; markup off for user data)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

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
