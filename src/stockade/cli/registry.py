"""`stockade registry list | show | submit | approve | reject | deploy | retire | lineage`."""

from __future__ import annotations

from typing import Annotated

import typer

from stockade.cli.output import console, escape, new_table, print_json
from stockade.cli.state import state

app = typer.Typer(
    help="Model versions through approval: submit, approve (maker-checker), reject, deploy, retire, lineage.",
    no_args_is_help=True,
)
RefArgument = Annotated[str, typer.Argument(help="NAME@vN (or NAME for its latest version).")]
ReasonOption = Annotated[str, typer.Option(help="Why (every transition needs one; kept in the audit log).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command("list")
def list_(
    stage: Annotated[str | None, typer.Option(help="Only versions at this stage, e.g. submitted.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List model versions and their stage (draft, submitted, approved, rejected, deployed, retired)."""
    from stockade.governance.registry import list_registry
    from stockade.governance.roles import require
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "registry.read")
        rows = list_registry(context, stage)
    if as_json:
        print_json(rows)
        return
    table = new_table("version", "kind", "stage", "tags", "by", "created (UTC)")
    for row in rows:
        stage_text = row["stage"] if row["status"] == "active" else f"{row['stage']} (removed)"
        table.add_row(
            row["ref"],
            row["kind"],
            stage_text,
            ", ".join(row["tags"]),
            escape(row["created_by"]),
            row["created_at"][:19].replace("T", " "),
        )
    console.print(table)


@app.command()
def show(reference: RefArgument) -> None:
    """Show a version's stage, who made it, the approvals it has and needs, its history (JSON)."""
    from stockade.governance.registry import version_history
    from stockade.governance.roles import require
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "registry.read")
        print_json(version_history(context, reference))


def _transition(
    reference: str,
    action: str,
    reason: str,
    eval_report: str | None = None,
    override_gate: str | None = None,
) -> None:
    from stockade.governance.lifecycle import ACTIONS, transition
    from stockade.governance.roles import require
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, ACTIONS[action][1])
        result = transition(
            context, reference, action, reason=reason, eval_report=eval_report, override_gate=override_gate
        )
    for gate in result.gates:
        style = "green" if gate.passed else "red"
        console.print(f"[{style}]{escape(gate.line())}[/]")
    if action == "submit" and any(not gate.passed for gate in result.gates):
        console.print(
            "[yellow]a release gate fails: approval will be refused unless a reviewer gives "
            "--override-gate (audited)[/]"
        )
    if result.gate_overridden:
        console.print("[yellow]release gate overridden (audited as model.gate_override)[/]")
    if action == "approve" and result.stage == "submitted":
        console.print(
            f"{result.ref}: approval {result.approvals} of {result.approvals_needed} recorded; "
            "still submitted (another reviewer must approve)"
        )
    else:
        console.print(f"{result.ref}: {result.stage_before} → [bold]{result.stage}[/]")


@app.command()
def submit(
    reference: RefArgument,
    reason: ReasonOption,
    eval_report: Annotated[
        str | None, typer.Option(help="The evaluation report id; default: the version's latest.")
    ] = None,
) -> None:
    """Submit a draft (or rejected) version for approval, with its evaluation report.

    Checks the release gates of stockade.yaml (governance.gates) against the stored reports and
    records each gate's pass/fail with its numbers; a failing gate does not stop the submission."""
    _transition(reference, "submit", reason, eval_report)


@app.command()
def approve(
    reference: RefArgument,
    reason: ReasonOption,
    override_gate: Annotated[
        str | None,
        typer.Option(
            "--override-gate",
            help="Approve although a release gate fails, with the reason (audited as model.gate_override). "
            "Refused when every gate passes.",
        ),
    ] = None,
) -> None:
    """Approve a submitted version. Never your own: makers (trainer, exporter, submitter) cannot.

    Refused while a release gate (governance.gates in stockade.yaml) fails, unless --override-gate."""
    _transition(reference, "approve", reason, override_gate=override_gate)


@app.command()
def reject(reference: RefArgument, reason: ReasonOption) -> None:
    """Reject a submitted version (it can be resubmitted)."""
    _transition(reference, "reject", reason)


@app.command()
def deploy(reference: RefArgument, reason: ReasonOption) -> None:
    """Mark an approved version deployed."""
    _transition(reference, "deploy", reason)


@app.command()
def retire(reference: RefArgument, reason: ReasonOption) -> None:
    """Retire a version: it can no longer be served, even in dev mode."""
    _transition(reference, "retire", reason)


@app.command()
def lineage(reference: RefArgument, as_json: JsonOption = False) -> None:
    """Print the chain: source files → privacy → dataset → run → adapter/version → eval → approvals."""
    from stockade.governance.lineage import model_lineage
    from stockade.governance.roles import require
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "registry.read")
        chain = model_lineage(context, reference)
    if as_json:
        print_json(chain.as_dict())
        return
    console.print(f"[bold]lineage of {escape(chain.ref)}[/]")
    for link in chain.links:
        facts = ", ".join(
            f"{key}={value}" for key, value in link.facts.items() if value not in (None, "", {})
        )
        console.print(f"  {link.kind:<10} {escape(link.ref)}  [dim]{escape(facts)}[/]")
