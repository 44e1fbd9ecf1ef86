"""What may be served: approved versions; unapproved ones and local folders only in dev mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from stockade.core.errors import ModelReferenceError, StockadeError
from stockade.core.specs import ServeSpec
from stockade.serving.target import NotServable, resolve_target


@pytest.fixture
def context(workspace_dir: Path):
    from stockade.workspace.service import open_workspace

    with open_workspace(workspace_dir) as context:
        yield context


def _register(context, folder: Path, stage: str) -> str:
    from stockade.models.store.service import import_model
    from stockade.storage.model_tables import ModelVersion

    outcome = import_model(context, folder, "tiny", copy=False)
    with Session(context.engine) as session:  # governance moves stages; the test sets one directly
        session.execute(update(ModelVersion).values(stage=stage))
        session.commit()
    return "tiny@v1" if outcome.created else pytest.fail("the tiny model was already registered")


CASES = [
    ("approved", False, "tiny@v1", False),
    ("deployed", False, "tiny@v1", False),
    ("draft", True, "tiny@v1", True),
    ("submitted", True, "tiny@v1", True),
]


@pytest.mark.parametrize(("stage", "dev", "label", "served_as_dev"), CASES)
def test_registered_versions(
    context, tiny_model_dir: Path, stage: str, dev: bool, label: str, served_as_dev: bool
):
    reference = _register(context, tiny_model_dir, stage)
    target = resolve_target(context, ServeSpec(model=reference, dev=dev))
    assert target.label == label and target.dev is served_as_dev and target.stage == stage
    assert (target.path / "config.json").is_file()


@pytest.mark.parametrize("stage", ["draft", "submitted", "rejected"])
def test_unapproved_versions_need_dev_mode(context, tiny_model_dir: Path, stage: str) -> None:
    reference = _register(context, tiny_model_dir, stage)
    with pytest.raises(StockadeError, match="not approved") as caught:
        resolve_target(context, ServeSpec(model=reference))
    assert caught.value.exit_code == 3


def test_a_retired_version_is_refused_even_in_dev_mode(context, tiny_model_dir: Path) -> None:
    reference = _register(context, tiny_model_dir, "retired")
    with pytest.raises(StockadeError, match="retired"):
        resolve_target(context, ServeSpec(model=reference, dev=True))


def test_a_local_folder_only_in_dev_mode(context, tiny_model_dir: Path) -> None:
    with pytest.raises(NotServable, match="dev mode"):
        resolve_target(context, ServeSpec(model=str(tiny_model_dir)))
    target = resolve_target(context, ServeSpec(model=str(tiny_model_dir), dev=True))
    assert (
        target.dev
        and target.path == tiny_model_dir.resolve()
        and target.label == str(tiny_model_dir.resolve())
    )


def test_no_model_and_bad_adapter_are_explained(context, tiny_model_dir: Path) -> None:
    with pytest.raises(ModelReferenceError, match="no model to serve"):
        resolve_target(context, ServeSpec())
    with pytest.raises(ModelReferenceError, match="adapter"):
        resolve_target(context, ServeSpec(model=str(tiny_model_dir), dev=True, adapter=str(tiny_model_dir)))
