"""`stockade upgrade BUNDLE | --rollback`: the quarterly update, from a verified install bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stockade.cli.bundle import AllowUnsignedOption, TrustedKeyOption
from stockade.cli.output import console, escape
from stockade.cli.state import state
from stockade.core.errors import StockadeError


def upgrade(
    bundle: Annotated[
        Path | None, typer.Argument(help="The install bundle folder (from `bundle build`).")
    ] = None,
    prefix: Annotated[
        Path,
        typer.Option(
            help="Where versions are installed: PREFIX/venv-VERSION-TIME, PREFIX/current, PREFIX/previous."
        ),
    ] = Path("/opt/stockade"),
    backup_out: Annotated[
        Path | None, typer.Option(help="The backup archive written before anything changes (a new file).")
    ] = None,
    trusted_key: TrustedKeyOption = None,
    allow_unsigned: AllowUnsignedOption = False,
    passphrase_file: Annotated[
        Path | None, typer.Option(help="The backup passphrase, line 1 of this file; default: prompt.")
    ] = None,
    python: Annotated[str, typer.Option(help="The Python to build the new venv with.")] = "python3",
    rollback_: Annotated[
        bool,
        typer.Option(
            "--rollback", help="Point PREFIX/current back at PREFIX/previous (no bundle, no backup)."
        ),
    ] = False,
) -> None:
    """Verify the bundle → back up the workspace → install beside the running version → migrate the
    database → doctor → switch PREFIX/current (needs `backup.create`). `--rollback` switches back."""
    from stockade.operations.upgrade import rollback, upgrade

    if rollback_:
        if bundle is not None or backup_out is not None or trusted_key is not None or allow_unsigned:
            raise StockadeError(
                "--rollback takes only --prefix", fix="`stockade upgrade --rollback --prefix /opt/stockade`"
            )
        now, was = rollback(prefix)
        console.print(
            f"[green]switched back[/]: current → {escape(str(now))} (was {escape(str(was))}). The database "
            "stays as the newer version migrated it: if this version refuses it, restore the backup taken "
            "by the upgrade."
        )
        return
    if bundle is None or backup_out is None:
        raise StockadeError(
            "give the bundle folder and --backup-out FILE",
            fix="`stockade upgrade /transfer/stockade-X.Y.Z-cpu --trusted-key org.pub --backup-out "
            "/backup/before-X.Y.Z.tar`",
        )
    from stockade.cli.login import read_password
    from stockade.governance.roles import require
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "backup.create")
        passphrase = read_password(passphrase_file, prompt="backup passphrase", confirm=True)
        console.print("verifying, backing up, installing (pip --no-index), migrating, doctor…")
        result = upgrade(
            context, bundle, prefix=prefix, backup_out=backup_out, passphrase=passphrase,
            trusted_key=trusted_key, allow_unsigned=allow_unsigned, python=python,
        )  # fmt: skip
    current, venv, backup = (escape(str(path)) for path in (prefix / "current", result.venv, result.backup))
    console.print(
        f"[green]upgraded to {result.version}[/]: {current} → {venv}; backup {backup}; "
        f"`stockade upgrade --rollback --prefix {escape(str(prefix))}` switches back"
    )


def register(app: typer.Typer) -> None:
    app.command("upgrade")(upgrade)
