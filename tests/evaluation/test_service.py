"""`evaluate` refuses what it must not score: data that kept personal data, models whose files changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stockade.core.errors import StockadeError
from tests.models.store_setup import copy_model, import_dataset, tiny_model

BUILT: dict[str, Path] = {}


@pytest.fixture
def context(workspace_dir: Path):
    from stockade.workspace.service import open_workspace

    with open_workspace(workspace_dir) as opened:
        yield opened


def test_data_that_kept_personal_data_is_not_evaluated(context, tmp_path: Path) -> None:
    from stockade.data.imports import plan_imports, run_imports
    from stockade.evaluation.service import evaluate
    from stockade.privacy.policy import load_policy
    from stockade.privacy.service import import_gate

    raw = tmp_path / "raw.json"
    raw.write_text(json.dumps([{"instruction": "客户手机13812345678", "input": "", "output": "已登记"}]))
    plans = plan_imports(
        path=raw, name="raw", formatting="auto", encoding="utf-8", dataset_dir=None, datasets=None
    )
    gate = import_gate(context.privacy_key(), load_policy(None, mode="allow"))
    run_imports(
        context, plans, gate=gate, allow_reason="test", skip_invalid=False, max_problems=5, tokenizer=None
    )
    with pytest.raises(StockadeError, match="did not pass the privacy gate"):
        evaluate(context, "any@v1", "raw@v1")


def test_a_model_whose_files_changed_is_not_evaluated(context, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from stockade.evaluation.service import evaluate
    from stockade.models.store.service import import_model

    dataset = import_dataset(context, tmp_path, "fin", rows=2)
    view = import_model(context, copy_model(tiny_model(BUILT, tmp_path, "glm4"), tmp_path / "m"), "m").view
    (context.workspace.root / view.path / "generation_config.json").write_text("{}")
    with pytest.raises(
        StockadeError, match=r"no longer match its manifest \(changed: generation_config.json\)"
    ):
        evaluate(context, view.ref, dataset)
    with pytest.raises(StockadeError, match="no model version 'other@v1'"):
        evaluate(context, "other@v1", dataset)
