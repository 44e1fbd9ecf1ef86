"""`stockade webui [--host 127.0.0.1] [--port 7860] [--tls]`: the web console."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stockade.cli.output import console, errors
from stockade.cli.state import state


def register(app: typer.Typer) -> None:
    @app.command()
    def webui(
        host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 7860,
        tls: Annotated[
            bool,
            typer.Option(
                "--tls/--no-tls",
                help="HTTPS with the workspace's server certificate, as `stockade serve --tls`.",
            ),
        ] = False,
        idle_minutes: Annotated[
            float, typer.Option(min=1, help="Log a browser out after this many idle minutes.")
        ] = 30.0,
        max_upload_mb: Annotated[int, typer.Option(min=1, help="Largest dataset upload accepted.")] = 200,
        max_jobs: Annotated[int, typer.Option(min=1, help="How many queued jobs run at once.")] = 1,
        import_root: Annotated[
            list[Path] | None,
            typer.Option(
                metavar="DIR",
                exists=True,
                file_okay=False,
                help="A server folder the Datasets page may import from (repeatable); nothing outside it.",
            ),
        ] = None,
    ) -> None:
        """The web console: datasets, training, runs, models, jobs, audit — login and roles as the CLI."""
        import uvicorn

        from stockade.core.workspace import Workspace
        from stockade.web.app import ConsoleSettings, create_app

        root = Workspace.locate(state.workspace).root
        settings = ConsoleSettings(
            workspace=root,
            tls=tls,
            idle_minutes=idle_minutes,
            max_upload_bytes=max_upload_mb * 1024 * 1024,
            max_jobs=max_jobs,
            import_roots=tuple(path.resolve() for path in import_root or ()),
        )
        web_app = create_app(settings)
        ssl: dict[str, str] = {}
        if tls:
            from stockade.security.pki import default_server_tls

            paths = default_server_tls(root / "pki")  # the same certificate as `stockade serve --tls`
            ssl = {"ssl_certfile": str(paths.cert), "ssl_keyfile": str(paths.key)}
        scheme = "https" if tls else "http"
        console.print(f"Stockade console on {scheme}://{host}:{port}/ (workspace {root})", soft_wrap=True)
        if host not in ("127.0.0.1", "localhost", "::1") and not tls:
            errors.print(
                "warning: listening beyond loopback without --tls; passwords would cross the network"
            )
        uvicorn.run(web_app, host=host, port=port, log_level="warning", **ssl)
