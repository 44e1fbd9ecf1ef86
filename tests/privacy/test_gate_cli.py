"""The privacy gate end to end: scan, desensitize (bytes kept), import with desensitize/block/allow."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli


def gb11643(body17: str) -> str:
    """An independent GB 11643 check digit, to build real-format test ID numbers."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body17 + "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights, strict=True)) % 11]


ID_NUMBER = gb11643("11010519900307281")
MOBILE = "13812345678"
GUIDE_RECORD = {
    "instruction": "生成风险评估报告",
    "input": f"客户A,年龄35,年收入50万,身份证号{ID_NUMBER},手机{MOBILE}",
    "output": "根据评估标准,该客户风险承受能力中等。",
}


def _write_guide(path: Path) -> Path:
    path.write_text(json.dumps([GUIDE_RECORD], ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def _cli(workspace: Path, *args: str):
    return run_cli("-w", str(workspace), *args)


def test_import_desensitizes_by_default_and_attaches_the_report(workspace_dir: Path, tmp_path: Path) -> None:
    source = _write_guide(tmp_path / "dataset.json")
    result = _cli(workspace_dir, "data", "import", str(source), "--name", "finance")
    assert result.returncode == 0, result.stderr
    assert ID_NUMBER not in result.stdout + result.stderr
    shown = json.loads(_cli(workspace_dir, "data", "show", "finance").stdout)
    assert shown["privacy"]["status"] == "desensitized"
    report = shown["privacy"]["report"]
    assert report["by_type"]["id_card"] == 1 and report["by_type"]["mobile"] == 1
    assert report["detectors"] and report["policy_sha256"]
    folder = workspace_dir / shown["path"]
    stored = folder.read_text(encoding="utf-8")
    assert ID_NUMBER not in stored and MOBILE not in stored and "<身份证号>" in stored
    assert (folder.parent / "privacy-report.html").is_file()
    html = (folder.parent / "privacy-report.html").read_text(encoding="utf-8")
    assert "id_card" in html and ID_NUMBER not in html
    audit = _cli(workspace_dir, "audit", "tail", "--json").stdout
    assert ID_NUMBER not in audit and "secret.create" in audit


def test_block_policy_refuses_with_the_report(workspace_dir: Path, tmp_path: Path) -> None:
    source = _write_guide(tmp_path / "dataset.json")
    result = _cli(workspace_dir, "data", "import", str(source), "--name", "finance", "--privacy", "block")
    assert result.returncode == 1
    assert "blocks it, nothing was imported" in result.stderr
    assert "id_card" in result.stdout and "mobile" in result.stdout  # the report table
    assert ID_NUMBER not in result.stdout + result.stderr
    assert json.loads(_cli(workspace_dir, "data", "list", "--json").stdout) == []


def test_allow_needs_a_reason_and_is_recorded(workspace_dir: Path, tmp_path: Path) -> None:
    source = _write_guide(tmp_path / "dataset.json")
    refused = _cli(workspace_dir, "data", "import", str(source), "--name", "raw", "--privacy", "allow")
    assert refused.returncode == 1 and "--reason" in refused.stderr
    allowed = _cli(
        workspace_dir,
        "data",
        "import",
        str(source),
        "--name",
        "raw",
        "--privacy",
        "allow",
        "--reason",
        "synthetic test identities",
    )
    assert allowed.returncode == 0, allowed.stderr
    shown = json.loads(_cli(workspace_dir, "data", "show", "raw").stdout)
    assert shown["privacy"]["status"] == "allowed"
    assert ID_NUMBER in (workspace_dir / shown["path"]).read_text(encoding="utf-8")
    records = [
        json.loads(line) for line in _cli(workspace_dir, "audit", "tail", "--json").stdout.splitlines()
    ]
    allow = next(r for r in records if r["action"] == "privacy.allow")
    assert allow["reason"] == "synthetic test identities" and allow["details"]["findings"]["id_card"] == 1


def test_scan_reports_counts_by_type_and_field_with_masked_samples(tmp_path: Path) -> None:
    source = _write_guide(tmp_path / "dataset.json")
    html = tmp_path / "report.html"
    result = run_cli("data", "scan", str(source), "--json", "--html", str(html))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["counts"]["id_card"] == {"input": 1} and report["counts"]["mobile"] == {"input": 1}
    assert ID_NUMBER not in result.stdout and MOBILE not in result.stdout
    assert all(ID_NUMBER[:6] not in sample for sample in report["samples"]["id_card"])
    page = html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "http" not in page and ID_NUMBER not in page


def test_desensitize_keeps_every_other_byte(workspace_dir: Path, tmp_path: Path) -> None:
    source = _write_guide(tmp_path / "dataset.json")
    output = tmp_path / "clean.json"
    result = _cli(
        workspace_dir,
        "data",
        "desensitize",
        str(source),
        "--output",
        str(output),
        "--report",
        str(tmp_path / "r.json"),
    )
    assert result.returncode == 0, result.stderr
    original = source.read_text(encoding="utf-8")
    cleaned = output.read_text(encoding="utf-8")
    expected = original.replace(ID_NUMBER, "<身份证号>").replace(MOBILE, "<手机号>")
    assert cleaned == expected
    assert json.loads((tmp_path / "r.json").read_text())["by_type"] == {"id_card": 1, "mobile": 1}
    again = _cli(workspace_dir, "data", "desensitize", str(source), "--output", str(output))
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr


def test_desensitize_with_a_pseudonym_policy_is_consistent(workspace_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "d.jsonl"
    lines = [{"instruction": f"客户身份证{ID_NUMBER}", "input": "", "output": f"已核验{ID_NUMBER}"}] * 2
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), encoding="utf-8")
    policy = tmp_path / "policy.yaml"
    policy.write_text("name: pseudo\nrules:\n  id_card: {operator: pseudonym}\n", encoding="utf-8")
    output = tmp_path / "out.jsonl"
    result = _cli(
        workspace_dir, "data", "desensitize", str(source), "--output", str(output), "--policy", str(policy)
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    fakes = {r["instruction"][5:] for r in records} | {r["output"][3:] for r in records}
    assert len(fakes) == 1 and ID_NUMBER not in fakes
    (fake,) = fakes
    assert fake == gb11643(fake[:17])  # a valid check digit: the model learns the format only


def test_bad_policy_is_a_clear_config_error(workspace_dir: Path, tmp_path: Path) -> None:
    source = _write_guide(tmp_path / "dataset.json")
    policy = tmp_path / "policy.yaml"
    policy.write_text("name: x\nrulez: {}\nrules:\n  id_crad: {operator: mask}\n", encoding="utf-8")
    result = _cli(workspace_dir, "data", "scan", str(source), "--policy", str(policy))
    assert result.returncode == 2
    assert "'rulez' (did you mean 'rules'?)" in result.stderr and "id_crad" in result.stderr
