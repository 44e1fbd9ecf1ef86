"""Pages render in both languages with every word translated, and read the same services as the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stockade.web.i18n import LANGUAGES, TEXT
from tests.web.conftest import log_in

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "stockade" / "web" / "templates"


def test_every_word_the_templates_use_exists_in_both_languages() -> None:
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"t\('([a-z_]+)'\)", template.read_text(encoding="utf-8")))
    assert used and used <= set(TEXT), sorted(used - set(TEXT))
    assert all(set(TEXT[key]) == set(LANGUAGES) for key in TEXT)


def test_chinese_first_english_on_request(console: TestClient) -> None:
    log_in(console, "alice")
    assert "数据集" in console.get("/datasets").text
    console.get("/language/en?next=/datasets")
    assert "Datasets" in console.get("/datasets").text
    # the language switch only goes back to a page of the console
    assert (
        console.get("/language/zh?next=//evil.example/x", follow_redirects=False).headers["location"] == "/"
    )


def test_the_train_form_shows_the_clis_did_you_mean(console: TestClient) -> None:
    csrf = log_in(console, "alice")
    preview = console.post(
        "/train/preview", data={"csrf": csrf, "model_name_or_path": "m@v1", "extra": "lora_rnak: 4"}
    )
    assert "lora_rank" in preview.text and "lora_rnak" in preview.text
    good = console.post(
        "/train/preview",
        data={"csrf": csrf, "model_name_or_path": "m@v1", "dataset": "a,b", "lora_rank": "16"},
    )
    assert "lora_rank: 16" in good.text and "- a\n- b" in good.text.replace("&#39;", "'")


def test_a_job_submitted_in_the_console_is_seen_by_the_cli(console: TestClient, team_workspace: Path) -> None:
    from tests.conftest import run_cli

    csrf = log_in(console, "alice")
    started = console.post(
        "/train/start",
        data={"csrf": csrf, "model_name_or_path": "tiny@v1", "dataset": "finance_qa"},
        follow_redirects=False,
    )
    assert started.status_code == 303
    job_id = started.headers["location"].rsplit("/", 1)[-1]
    spec = (team_workspace / "jobs" / job_id / "train.yaml").read_text()
    assert "model: tiny@v1" in spec
    listed = run_cli(
        "-w", str(team_workspace), "jobs", "show", job_id, "--json", env={"STOCKADE_SESSION": "x"}
    )
    assert listed.returncode == 3  # nobody logged in in that terminal: refused like every read
    page = console.get(f"/jobs/{job_id}")
    assert "queued" in page.text and "stockade train" in page.text  # no dispatcher in this test


def test_the_web_layer_changes_no_state_itself() -> None:
    """Architecture: the console is a thin adapter; sessions and audit records are services'
    (governance.web_sessions). No console module reaches the database or its tables directly."""
    import ast

    web = TEMPLATES.parent
    for module in web.glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
            alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        }
        reaching = sorted(name for name in imported if name.startswith(("sqlalchemy", "stockade.storage")))
        assert not reaching, f"{module.name} imports {reaching}"


def _train_form(csrf: str, **more: str) -> dict[str, str]:
    return {
        "csrf": csrf,
        "model_name_or_path": "tiny@v1",
        "dataset": "finance_qa",
        "lora_rank": "16",
        "extra": "max_steps: 5\nlogging_steps: 1\n",
        **more,
    }


def test_save_a_config_then_load_it_into_the_form(console: TestClient, team_workspace: Path) -> None:
    from stockade.core.specs import TrainSpec, load_spec
    from stockade.workspace.service import open_workspace

    csrf = log_in(console, "alice")
    saved = console.post("/train/save", data=_train_form(csrf, config_name="finance_cfg.yaml"))
    assert saved.status_code == 200, saved.text
    path = team_workspace / "configs" / "finance_cfg.yaml"
    spec = load_spec(TrainSpec, path)  # the file `stockade train configs/finance_cfg.yaml` reads
    assert (spec.model, spec.dataset, spec.lora_rank, spec.max_steps) == ("tiny@v1", ["finance_qa"], 16, 5)
    with open_workspace(team_workspace) as context:
        record = next(r for r in reversed(context.audit.tail(10)) if r.action == "config.save")
        assert record.actor == "alice" and record.target == str(path)
    # an existing config is kept unless overwrite is ticked
    kept = _train_form(csrf, config_name="finance_cfg.yaml", lora_rank="32")
    again = console.post("/train/save", data=kept)
    assert again.status_code == 400 and "exists" in again.text
    assert load_spec(TrainSpec, path).lora_rank == 16
    over = _train_form(csrf, config_name="finance_cfg.yaml", lora_rank="32", overwrite="on")
    assert console.post("/train/save", data=over).status_code == 200
    assert load_spec(TrainSpec, path).lora_rank == 32
    # loaded: the guide's fields in their inputs, every other key in the "other keys" YAML
    page = console.get("/train?config=finance_cfg.yaml")
    assert page.status_code == 200
    assert re.search(r'id="f-lora_rank" value="32"', page.text)
    assert re.search(r'id="f-model_name_or_path" value="tiny@v1"', page.text)
    extra = re.search(r'<textarea name="extra"[^>]*>([^<]*)</textarea>', page.text)
    assert extra and "max_steps: 5" in extra.group(1) and "model" not in extra.group(1)
    assert "<option selected>finance_cfg.yaml</option>" in page.text


def test_starting_a_training_with_a_config_name_saves_it_too(
    console: TestClient, team_workspace: Path
) -> None:
    csrf = log_in(console, "alice")
    started = console.post(
        "/train/start", data=_train_form(csrf, config_name="run1.yml"), follow_redirects=False
    )
    assert started.status_code == 303
    job_id = started.headers["location"].rsplit("/", 1)[-1]
    job_spec = (team_workspace / "jobs" / job_id / "train.yaml").read_text()
    assert (team_workspace / "configs" / "run1.yml").read_text() == job_spec


@pytest.mark.parametrize(
    "name", ["../outside.yaml", "/tmp/x.yaml", "sub/x.yaml", ".hidden.yaml", "x.txt", "..yaml", ""]
)
def test_a_config_name_never_leaves_the_configs_folder(
    console: TestClient, team_workspace: Path, name: str
) -> None:
    csrf = log_in(console, "alice")
    response = console.post("/train/save", data=_train_form(csrf, config_name=name))
    assert response.status_code == 400, response.text
    assert "config name" in response.text
    assert not (team_workspace.parent / "outside.yaml").exists()
    assert not list((team_workspace / "configs").iterdir())
    if name:
        assert console.get("/train", params={"config": name}).status_code == 400


def test_a_reviewer_may_not_save_or_load_configs(console: TestClient, team_workspace: Path) -> None:
    (team_workspace / "configs" / "a.yaml").write_text("model: tiny@v1\n")
    csrf = log_in(console, "bob")
    refused = console.post("/train/save", data=_train_form(csrf, config_name="b.yaml"))
    assert refused.status_code == 403 and "train.run" in refused.text
    assert console.get("/train?config=a.yaml").status_code == 403
    assert not (team_workspace / "configs" / "b.yaml").exists()


def test_a_saved_config_with_a_typo_is_refused_as_the_cli_refuses_it(
    console: TestClient, team_workspace: Path
) -> None:
    (team_workspace / "configs" / "typo.yaml").write_text("model: tiny@v1\nlora_rnak: 4\n")
    log_in(console, "alice")
    page = console.get("/train?config=typo.yaml")
    assert page.status_code == 400 and "lora_rank" in page.text and "lora_rnak" in page.text


def test_the_preview_shows_the_memory_estimate_of_a_registered_model(
    console: TestClient, team_workspace: Path, tmp_path: Path
) -> None:
    pytest.importorskip("torch")
    from stockade.models.store.service import import_model
    from stockade.resources.estimate import GIB, estimate_training
    from stockade.resources.plan import device_of, setup_for_spec
    from stockade.resources.shape import read_shape
    from stockade.workspace.service import Actor, open_workspace
    from tests.models.store_setup import copy_model, tiny_model

    folder = copy_model(tiny_model({}, tmp_path, "qwen2"), tmp_path / "base")
    with open_workspace(team_workspace, actor=Actor(name="admin", role="admin")) as context:
        import_model(context, folder, "tiny")
    csrf = log_in(console, "alice")
    estimates = {}
    for rank in ("8", "512"):
        preview = console.post("/train/preview", data=_train_form(csrf, lora_rank=rank))
        found = re.search(r'id="memory-estimate"[^>]*>.*?peak ([0-9.]+) GiB', preview.text, re.S)
        assert found, preview.text
        estimates[rank] = float(found.group(1))
    # the estimator's own number for the same spec (stockade estimate / doctor --for)
    from stockade.core.specs import TrainSpec, load_spec

    spec = load_spec(TrainSpec, data={"model": "tiny@v1", "dataset": ["finance_qa"], "lora_rank": 512})
    expected = estimate_training(read_shape(folder), setup_for_spec(spec, folder, device_of(0))).peak_device
    assert estimates["512"] == pytest.approx(expected / GIB, abs=0.006)
    assert estimates["512"] > estimates["8"]
    unknown = console.post("/train/preview", data=_train_form(csrf, model_name_or_path="nosuch@v1"))
    assert "not estimated" in unknown.text
