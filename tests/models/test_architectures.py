"""Every supported architecture through the whole store path on a tiny random build:
import → one LoRA training step on the registered version → merge (sharded, logits-checked) → generate
→ evaluate against the base."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from stockade.core.hashing import sha256_file
from tests.models.store_setup import copy_model, import_dataset, tiny_model, train_one_step

pytest.importorskip("torch")
pytest.importorskip("peft")

ARCHS = {  # arch: (class, suggested template)
    "qwen2": ("Qwen2ForCausalLM", "qwen"),
    "qwen3": ("Qwen3ForCausalLM", "qwen3"),
    "llama": ("LlamaForCausalLM", "llama3"),
    "glm4": ("Glm4ForCausalLM", "glm4"),
    "mistral": ("MistralForCausalLM", "mistral"),
}
SHARD_GB = 150_000 / 1024**3  # 150 kB shards: the tiny model needs several
BUILT: dict[str, Path] = {}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory):
    from stockade.workspace.service import initialize_workspace, open_workspace

    root = tmp_path_factory.mktemp("archs")
    initialize_workspace(root / "ws")
    with open_workspace(root / "ws") as context:
        dataset = import_dataset(context, root, "finance", rows=6)
        yield {"root": root, "context": context, "dataset": dataset}


@pytest.mark.parametrize("arch", list(ARCHS))
def test_import_train_merge_generate_evaluate(shared: dict, arch: str) -> None:
    from sqlalchemy.orm import Session

    from stockade.evaluation.service import evaluate
    from stockade.models.generation import generate_once
    from stockade.models.store.export import export_run
    from stockade.models.store.service import import_model
    from stockade.storage.model_tables import EvalReport

    context, root = shared["context"], shared["root"]
    workspace = context.workspace.root
    source = copy_model(tiny_model(BUILT, root, arch), root / f"{arch}-src")
    base = import_model(context, source, f"{arch}-base").view
    assert (base.architecture, base.template) == ARCHS[arch]

    run_id = train_one_step(context, base.ref, shared["dataset"], base.template)
    merged = export_run(context, run_id, merge=True, shard_gb=SHARD_GB)
    view, check = merged.view, merged.check
    assert view.kind == "merged" and view.ref == f"{arch}-base-merged@v1" and view.template == base.template
    assert check is not None and check["max_abs_diff"] <= check["tolerance"] == 1e-4
    folder = workspace / view.path
    shards = sorted(folder.glob("*.safetensors"))
    assert len(shards) > 1 and (folder / "model.safetensors.index.json").is_file()
    weight_map = json.loads((folder / "model.safetensors.index.json").read_text())["weight_map"]
    for shard in shards:  # a shard over the limit holds one tensor that is itself bigger
        assert shard.stat().st_size <= 150_000 or list(weight_map.values()).count(shard.name) == 1
    assert check["shards"] == len(shards)
    lineage = view.lineage
    assert lineage["run"] == run_id and lineage["base_version"] == base.ref
    assert lineage["base_manifest_sha256"] == base.manifest_sha256
    assert [d["ref"] for d in lineage["datasets"]] == [shared["dataset"]]
    assert lineage["datasets"][0]["content_sha256"]

    prompt = "活期存款利率是多少？"
    adapter = workspace / "runs" / run_id / "adapter"
    with_adapter = generate_once(workspace / base.path, prompt, adapter=adapter, template=base.template)
    from_merged = generate_once(folder, prompt, template=view.template)
    assert from_merged.text == with_adapter.text and from_merged.new_tokens > 0

    adapter_only = export_run(context, run_id, merge=False).view
    assert adapter_only.kind == "adapter" and adapter_only.lineage["base_version_id"] == base.id

    outcome = evaluate(context, view.ref, shared["dataset"], baseline=base.ref, limit=2, max_new_tokens=6)
    summary = outcome.summary
    assert summary["examples"] == 2
    assert summary["candidate"]["loss"] < summary["baseline"]["loss"]  # the merged step learned something
    assert math.isclose(
        summary["delta"]["loss"], summary["candidate"]["loss"] - summary["baseline"]["loss"], abs_tol=1e-12
    )
    report = json.loads(outcome.json_path.read_text(encoding="utf-8"))
    assert report["candidate"]["ref"] == view.ref and report["baseline"]["ref"] == base.ref
    html = outcome.html_path.read_text(encoding="utf-8")
    assert view.ref in html and base.ref in html
    with Session(context.engine) as session:
        row = session.get(EvalReport, outcome.id)
        assert row is not None and row.sha256 == sha256_file(outcome.json_path)
        assert row.model_version_id == view.id and row.baseline_version_id == base.id
    via_adapter = evaluate(context, adapter_only.ref, shared["dataset"], limit=2, max_new_tokens=6)
    assert math.isclose(via_adapter.summary["candidate"]["loss"], summary["candidate"]["loss"], abs_tol=1e-4)
