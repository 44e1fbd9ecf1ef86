"""Lineage: every link from the source file to the approvals, in order."""

from __future__ import annotations

from pathlib import Path

from stockade.governance.lifecycle import transition
from stockade.governance.lineage import model_lineage
from tests.governance.conftest import add_version, as_user


def test_lineage_runs_from_source_file_to_deployment(team: Path) -> None:
    ref = add_version(team)
    with as_user(team, "alice", "trainer") as context:
        transition(context, ref, "submit", reason="eval looks good")
    with as_user(team, "bob", "reviewer") as context:
        transition(context, ref, "approve", reason="checked")
    with as_user(team, "alice", "trainer") as context:
        transition(context, ref, "deploy", reason="go live")
    with as_user(team, "dave", "auditor") as context:
        chain = model_lineage(context, ref)
    kinds = [link.kind for link in chain.links]
    assert kinds == [
        "source",
        "privacy",
        "dataset",
        "base",
        "run",
        "version",
        "eval",
        "transition",
        "approval",
        "transition",
        "transition",
    ]
    links = {link.kind: link for link in chain.links}
    assert links["source"].facts["sha256"] == "a" * 64
    assert links["privacy"].facts["status"] == "desensitized"
    assert links["dataset"].ref == "fin-data@v1" and links["run"].facts["by"] == "alice"
    assert links["approval"].ref == "bob"
    assert [link.ref for link in chain.links if link.kind == "transition"] == [
        "draft → submitted",
        "submitted → approved",
        "approved → deployed",
    ]
