"""Pages render in both languages with every word translated, and read the same services as the CLI."""

from __future__ import annotations

import re
from pathlib import Path

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
