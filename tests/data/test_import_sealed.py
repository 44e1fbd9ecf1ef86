"""Raw records are never staged unencrypted before the privacy gate (issue 14, item 3): a kill -9 while they
are staged leaves ciphertext only, and the gate itself works on the sealed file."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from stockade.storage.staging import KILL_VARIABLE
from tests.conftest import REPO, run_cli

ID_NUMBER = "110101199003074258"
SAMPLES = json.loads((REPO / "src/stockade/data/samples/finance_qa_zh.json").read_text(encoding="utf-8"))
RECORD = {"instruction": "登记客户证件", "input": f"身份证号码 {ID_NUMBER}", "output": "已登记。"}


def _planted(folder: Path) -> Path:
    data = folder / "clients.json"
    data.write_text(json.dumps([*SAMPLES[:10], RECORD] * 30, ensure_ascii=False), encoding="utf-8")
    return data


def _holding(folder: Path, text: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def test_an_import_killed_with_its_records_staged_leaves_no_raw_data(
    workspace_dir: Path, tmp_path: Path
) -> None:
    killed = run_cli(
        "-w", str(workspace_dir), "data", "import", str(_planted(tmp_path)), "--name", "clients",
        env={KILL_VARIABLE: "dataset.staging"},
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    staging = workspace_dir / "datasets" / ".staging"
    (staged,) = staging.glob("import-*/records.sealed")
    assert staged.stat().st_size > 330 * 40  # every record is there (330 of them), sealed
    assert staged.stat().st_mode & 0o777 == 0o600
    assert _holding(staging, ID_NUMBER) == [] and _holding(staging, "登记客户证件") == []
    assert _holding(workspace_dir, ID_NUMBER) == []

    listed = run_cli("-w", str(workspace_dir), "data", "list")  # the next open removes the ciphertext
    assert listed.returncode == 0, listed.stderr
    assert list(staging.iterdir()) == []


class _GrepGate:
    """The real gate; before and after it runs, the staging folder is searched for the raw ID number."""

    def __init__(self, inner) -> None:
        self.inner, self.found, self.seen = inner, [], []

    def inspect(self, staged, *, dataset: str):
        self.found += _holding(staged.path.parent, ID_NUMBER)
        verdict = self.inner.inspect(staged, dataset=dataset)
        self.found += _holding(staged.path.parent, ID_NUMBER)
        self.seen.append(verdict.status)
        return verdict


@pytest.mark.parametrize("mode", ["desensitize", "block", "allow"])
def test_the_gate_reads_the_sealed_records(workspace_dir: Path, tmp_path: Path, mode: str) -> None:
    from stockade.core.errors import StockadeError
    from stockade.data.imports import plan_imports, run_imports
    from stockade.privacy.policy import load_policy
    from stockade.privacy.service import import_gate
    from stockade.workspace.service import open_workspace

    data = tmp_path / "clients.json"
    data.write_text(json.dumps([*SAMPLES[:4], RECORD], ensure_ascii=False), encoding="utf-8")
    with open_workspace(workspace_dir) as context:
        plans = plan_imports(
            path=data, name="clients", formatting="auto", encoding="utf-8", dataset_dir=None, datasets=None
        )
        gate = _GrepGate(import_gate(context.privacy_key(), load_policy(None, mode=mode)))
        imported = lambda: run_imports(  # noqa: E731
            context, plans, gate=gate, allow_reason="test", skip_invalid=False, max_problems=5, tokenizer=None
        )
        if mode == "block":
            with pytest.raises(StockadeError, match="blocks it"):
                imported()
        else:
            (outcome,) = imported()
    assert gate.found == []
    assert gate.seen == [{"desensitize": "desensitized", "block": "refused", "allow": "allowed"}[mode]]
    stored = workspace_dir / "datasets" / "clients" / "v1" / "data.jsonl"
    if mode == "block":
        assert not stored.exists()
    else:
        rows = [json.loads(line) for line in stored.read_text(encoding="utf-8").splitlines()]
        assert len(rows) == 5 and outcome.version.rows == 5
        assert (ID_NUMBER in stored.read_text(encoding="utf-8")) is (mode == "allow")
        assert stored.stat().st_mode & 0o777 == 0o600
        from stockade.core.hashing import sha256_file

        assert outcome.version.content_sha256 == sha256_file(stored)  # the hash of what was stored
    assert _holding(workspace_dir / "datasets" / ".staging", ID_NUMBER) == []
    assert list((workspace_dir / "datasets" / ".staging").iterdir()) == []


def test_the_gate_desensitizes_sealed_records_on_several_workers(workspace_dir: Path, tmp_path: Path) -> None:
    from stockade.data.imports import plan_imports, run_imports
    from stockade.privacy.policy import load_policy
    from stockade.privacy.service import import_gate
    from stockade.workspace.service import open_workspace

    data = _planted(tmp_path)
    with open_workspace(workspace_dir) as context:
        plans = plan_imports(
            path=data, name="clients", formatting="auto", encoding="utf-8", dataset_dir=None, datasets=None
        )
        gate = _GrepGate(import_gate(context.privacy_key(), load_policy(None, mode=None), workers=2))
        (outcome,) = run_imports(
            context, plans, gate=gate, allow_reason=None, skip_invalid=False, max_problems=5, tokenizer=None
        )
    assert gate.found == [] and gate.seen == ["desensitized"] and outcome.version.rows == 330
    stored = (workspace_dir / outcome.version.path).read_text(encoding="utf-8")
    assert ID_NUMBER not in stored and stored.count("登记客户证件") == 30
