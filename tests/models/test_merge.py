"""`stockade export RUN`: the logits check refuses a bad merge, the base must be registered, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stockade.core.errors import StockadeError
from tests.conftest import LLAMAFACTORY_CONFIGS, run_cli
from tests.models.store_setup import audit_actions, copy_model, import_dataset, tiny_model, train_one_step

pytest.importorskip("torch")
pytest.importorskip("peft")

BUILT: dict[str, Path] = {}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """A dev-mode run on a local (not yet registered) tiny Qwen2 folder."""
    from stockade.workspace.service import open_workspace

    root = tmp_path_factory.mktemp("merge")
    workspace = root / "ws"
    assert run_cli("init", str(workspace)).returncode == 0
    settings = workspace / "stockade.yaml"
    settings.write_text(settings.read_text().replace("dev_mode: false", "dev_mode: true"))
    source = copy_model(tiny_model(BUILT, root, "qwen2"), root / "local-qwen2")
    with open_workspace(workspace) as context:
        dataset = import_dataset(context, root, "finance", rows=4)
        run_id = train_one_step(context, str(source), dataset, "qwen")
        yield {"root": root, "workspace": workspace, "context": context, "source": source, "run": run_id}


def test_an_unregistered_base_is_refused_then_found_by_its_files(trained: dict) -> None:
    from stockade.models.store.export import export_run
    from stockade.models.store.service import import_model

    context = trained["context"]
    with pytest.raises(StockadeError) as error:
        export_run(context, trained["run"], merge=False)
    assert "not registered" in str(error.value) and f"stockade model import {trained['source']}" in str(
        error.value
    )
    base = import_model(context, trained["source"], "qwen-base").view
    exported = export_run(context, trained["run"], merge=False, name="qwen-lora").view
    assert exported.ref == "qwen-lora@v1" and exported.lineage["base_version"] == base.ref
    assert (context.workspace.root / exported.path / "adapter_config.json").is_file()


def test_a_merge_that_changes_the_logits_is_not_registered(
    trained: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from stockade.models import merge
    from stockade.models.store.export import export_run
    from stockade.models.store.service import import_model, list_models

    context = trained["context"]
    import_model(context, trained["source"], "qwen-base")  # no-op when the previous test registered it
    original = merge.save_merged

    def save_corrupted(model, out: Path, shard_bytes: int) -> None:
        with torch.no_grad():
            model.model.layers[0].mlp.down_proj.weight[0, 0] += 0.5  # one weight, after the merge
        original(model, out, shard_bytes)

    monkeypatch.setattr(merge, "save_merged", save_corrupted)
    before = [v.ref for v in list_models(context)]
    with pytest.raises(merge.MergeMismatch) as error:
        export_run(context, trained["run"], merge=True, name="corrupt")
    assert "largest logit difference" in str(error.value) and "tolerance 0.0001" in str(error.value)
    assert [v.ref for v in list_models(context)] == before
    assert not (context.workspace.root / "models" / "corrupt").exists() or not any(
        (context.workspace.root / "models" / "corrupt").iterdir()
    )
    assert not any(
        action == "model.export" and target == "corrupt@v1" for action, target, _ in audit_actions(context)
    )


def test_export_and_eval_commands(trained: dict) -> None:
    from stockade.models.store.service import import_model

    workspace, context = trained["workspace"], trained["context"]
    import_model(context, trained["source"], "qwen-base")
    both = run_cli("-w", str(workspace), "export", trained["run"], "--merge", "--adapter-only")
    assert both.returncode == 2 and "exactly one of --merge and --adapter-only" in both.stderr
    result = run_cli(
        "-w",
        str(workspace),
        "export",
        trained["run"],
        "--merge",
        "--name",
        "qwen-fin",
        "--export_size",
        "0.0001",
    )
    assert result.returncode == 0, result.stderr
    assert (
        "registered qwen-fin@v1 (merged)" in result.stdout and "logits check: max abs diff" in result.stdout
    )
    shards = list((workspace / "models/qwen-fin/v1").glob("model-*.safetensors"))
    assert len(shards) > 1
    evaluated = run_cli(
        "-w", str(workspace), "eval", "qwen-fin@v1", "--dataset", "finance@v1",
        "--baseline", "qwen-base@v1", "--limit", "2", "--max-new-tokens", "4",
    )  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr
    assert "ROUGE-L (chars)" in evaluated.stdout and "report.html" in evaluated.stdout
    tail = run_cli("-w", str(workspace), "audit", "tail", "--json", "-n", "50")
    actions = [json.loads(line)["action"] for line in tail.stdout.splitlines() if line.strip()]
    assert "model.export" in actions and "eval.report" in actions
    as_json = run_cli(
        "-w", str(workspace), "eval", "qwen-fin@v1", "--dataset", "finance@v1", "--limit", "1",
        "--max-new-tokens", "2", "--json",
    )  # fmt: skip
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["id"].startswith("eval-") and Path(report["report_html"]).is_file()
    assert 0.0 <= report["candidate"]["rouge_l"] <= 1.0 and report["examples"] == 1
    unknown = run_cli("-w", str(workspace), "eval", "nothing@v9", "--dataset", "finance@v1")
    assert unknown.returncode == 2 and "qwen-fin@v1" in unknown.stderr and "Traceback" not in unknown.stderr


def test_a_llamafactory_merge_yaml_is_accepted() -> None:
    config = LLAMAFACTORY_CONFIGS / "merge_lora_qwen3_lora_sft.yaml"
    result = run_cli("export", "run-x", str(config), "--merge", "--export_size", "0.5", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "export_size: 0.5" in result.stdout and "export_device: cpu" in result.stdout
    assert "are ignored: run-x's lineage names its base version and adapter" in result.stderr


def test_a_full_fine_tune_is_exported_whole(trained: dict) -> None:
    from stockade.models.generation import generate_once
    from stockade.models.store.export import export_run
    from stockade.models.store.service import import_model

    context = trained["context"]
    base = import_model(context, trained["source"], "qwen-base").view
    run_id = train_one_step(context, base.ref, "finance@v1", "qwen", finetuning_type="full")
    with pytest.raises(StockadeError, match="has no adapter"):
        export_run(context, run_id, merge=False)
    outcome = export_run(context, run_id, merge=True, name="qwen-full", shard_gb=200_000 / 1024**3)
    view, check = outcome.view, outcome.check
    assert (
        view.kind == "merged" and view.lineage["finetuning_type"] == "full" and view.lineage["run"] == run_id
    )
    assert check is not None and check["max_abs_diff"] <= 1e-4 and check["shards"] > 1
    files = {f["path"]: f["sha256"] for f in view.manifest["files"]}
    base_files = {f["path"]: f["sha256"] for f in base.manifest["files"]}
    assert files["tokenizer.json"] == base_files["tokenizer.json"]
    folder = context.workspace.root / view.path
    assert generate_once(folder, "什么是LPR？", template="qwen").new_tokens > 0
