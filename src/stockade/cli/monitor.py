"""`stockade monitor`: GPUs (NVML), running training runs, and a server's request rate and latency."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from stockade.cli.output import console, escape, print_json
from stockade.cli.state import state

GIB = 2**30


def _token(path: Path | None) -> str | None:
    if path is None:
        return None
    from stockade.core.errors import ConfigError

    try:
        line = path.expanduser().read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(
            f"cannot read {path}: {exc.strerror}", where="--token-file", fix="check the path"
        ) from exc
    if not line or not line[0].strip():
        raise ConfigError(f"{path} is empty", where="--token-file", fix="put the API key on line 1")
    return line[0].strip()


def register(app: typer.Typer) -> None:
    @app.command()
    def monitor(
        once: Annotated[bool, typer.Option("--once", help="Print one snapshot and exit.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="With --once: JSON instead of tables.")] = False,
        server: Annotated[
            str | None,
            typer.Option(
                "--server",
                help="A running `stockade serve` to read /metrics from, e.g. http://127.0.0.1:5000 "
                "(request rate, latency, queue).",
            ),
        ] = None,
        token_file: Annotated[
            Path | None,
            typer.Option(
                "--token-file", help="An API key (line 1) for --server: /metrics needs a credential."
            ),
        ] = None,
        interval: Annotated[
            float,
            typer.Option(
                "--interval",
                min=0.2,
                help="Seconds between refreshes of the live view; with --once and --server, between the "
                "two reads of /metrics that give the request rate.",
            ),
        ] = 2.0,
    ) -> None:
        """Live view of GPUs (memory, utilisation, temperature, power, processes and the run that owns them),
        running training runs with their progress, and a server's request rate and latency. Ctrl-C exits."""
        from stockade.core.errors import ConfigError
        from stockade.governance.roles import require
        from stockade.operations import monitor as service
        from stockade.workspace.service import open_workspace

        if as_json and not once:
            raise ConfigError(
                "--json needs --once", where="stockade monitor", fix="stockade monitor --once --json"
            )
        if token_file is not None and server is None:
            raise ConfigError(
                "--token-file without --server", where="stockade monitor", fix="add --server URL"
            )
        token = _token(token_file)
        with open_workspace(state.workspace) as context:
            require(context, "runs.read")
            root = context.workspace.root
            before = service.scrape(server, token) if server else None

            def take() -> Any:
                nonlocal before
                stats = None
                if server:
                    now = service.scrape(server, token)
                    stats = service.server_stats(server, now, before)
                    before = now
                return service.snapshot(context.engine, root, stats)

            if once:
                if server:
                    time.sleep(interval)
                shot = take()
                if as_json:
                    print_json(shot.as_dict())
                else:
                    console.print(_render(shot))
                return
            from rich.live import Live

            try:
                with Live(_render(take()), console=console, refresh_per_second=4, screen=False) as live:
                    while True:
                        time.sleep(interval)
                        live.update(_render(take()))
            except KeyboardInterrupt:
                return


def _render(shot: Any) -> Any:
    from rich.console import Group
    from rich.table import Table

    parts: list[Any] = []
    if shot.gpus is None:
        parts.append("[dim]GPUs: no NVML (no NVIDIA driver or nvidia-ml-py): nothing to show[/]")
    else:
        gpus = Table(title="GPUs", show_lines=False)
        for column in ("gpu", "name", "memory", "util", "temp", "power", "processes"):
            gpus.add_column(column, overflow="fold")
        for gpu in shot.gpus:
            memory = (
                f"{gpu.memory_used_bytes / GIB:.1f}/{gpu.memory_total_bytes / GIB:.1f} GiB"
                if gpu.memory_used_bytes is not None and gpu.memory_total_bytes
                else "-"
            )
            processes = ", ".join(
                f"{p.pid}"
                + (f" ({p.owner})" if p.owner else "")
                + (f" {p.memory_bytes / GIB:.1f} GiB" if p.memory_bytes is not None else "")
                for p in gpu.processes
            )
            gpus.add_row(
                str(gpu.index),
                escape(gpu.name),
                memory,
                _unit(gpu.utilization_percent, "%", 0),
                _unit(gpu.temperature_c, "°C", 0),
                _unit(gpu.power_watts, " W", 0),
                processes or "-",
            )
        parts.append(gpus)
    runs = Table(title="Running training runs", show_lines=False)
    for column in ("run", "by", "model", "step", "epoch", "progress", "loss", "tokens/s"):
        runs.add_column(column, overflow="fold")
    for run in shot.runs:
        epoch = f"{run.epoch:.2f}/{run.epochs:g}" if run.epoch is not None and run.epochs else "-"
        runs.add_row(
            run.id,
            escape(run.created_by),
            escape(run.base_model),
            str(run.step) if run.step is not None else "-",
            epoch,
            _unit(run.progress * 100 if run.progress is not None else None, "%", 1),
            _unit(run.loss, "", 4),
            _unit(run.tokens_per_s, "", 0),
        )
    parts.append(runs if shot.runs else "[dim]no training run is running[/]")
    if shot.server is not None:
        s = shot.server
        parts.append(
            f"server {escape(s.url)}: {s.requests_total:.0f} requests ({s.errors_total:.0f} errors), "
            f"{_unit(s.requests_per_s, ' req/s', 2)}, latency recent {_unit(s.latency_s_recent, ' s', 3)}, "
            f"mean {_unit(s.mean_latency_s, ' s', 3)}, {s.running:.0f} running, {s.waiting:.0f} waiting, "
            f"{_unit(s.generated_tokens_per_s, ' tokens/s', 1)}"
        )
    return Group(*parts)


def _unit(value: float | None, unit: str, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}{unit}"
