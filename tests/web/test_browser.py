"""The console in a real browser (Debian's chromium driven by Playwright for Python, never a browser
Playwright downloads): alice logs in, uploads a dataset with personal data and reads the privacy report;
bob logs in in another browser context; both log out. Every request the browser makes is recorded and
must go to the console's own host. Screenshots of each page (Chinese, 1280x800) go to
docs/screenshots/ when STOCKADE_SCREENSHOTS=1."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import REPO, run_cli
from tests.jobs.conftest import write_pii_dataset
from tests.web.conftest import PASSWORDS

CHROMIUM = shutil.which("chromium")
try:
    import playwright.sync_api as playwright_api
except ImportError:  # a plain clone without the browser test's tools
    playwright_api = None  # type: ignore[assignment]

MISSING = "browser tests need Debian's chromium and `pip install playwright` (.ci/run installs both)"
IN_CI = os.environ.get("CI") == "true"  # in CI a missing browser is a failure, not a skip
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif((playwright_api is None or CHROMIUM is None) and not IN_CI, reason=MISSING),
]


@pytest.fixture(autouse=True)
def _browser_present() -> None:
    if playwright_api is None or CHROMIUM is None:
        pytest.fail(MISSING)


SCREENSHOTS = REPO / "docs" / "screenshots"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(team_workspace: Path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "STOCKADE_HOME"}
    process = subprocess.Popen(
        [sys.executable, "-m", "stockade", "-w", str(team_workspace), "webui", "--port", str(port)],
        env=env,
        stdout=open(team_workspace.parent / "console.log", "w"),  # noqa: SIM115 - closed with the process
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        raise AssertionError((team_workspace.parent / "console.log").read_text())
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def _login(page, base: str, name: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORDS[name])
    page.click("#login")
    page.wait_for_url(f"{base}/jobs")


def _shot(page, name: str) -> None:
    if os.environ.get("STOCKADE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")  # the page as it opens, not where the last field was
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def test_the_console_in_chromium(server: str, team_workspace: Path, tmp_path: Path) -> None:
    data = write_pii_dataset(tmp_path / "clients.json")
    hosts: set[str] = set()
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            alice = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            alice.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
            page = alice.new_page()
            page.goto(f"{server}/datasets")
            assert page.url.endswith("/login")  # no page without login
            _shot(page, "login")
            _login(page, server, "alice")
            assert "任务" in page.content()  # Chinese first
            page.goto(f"{server}/datasets")
            page.set_input_files("#file", str(data))
            page.fill("#dataset-name", "clients")
            page.click("#upload")
            page.wait_for_url(f"{server}/jobs/job-*")
            page.wait_for_selector("#job-status:text('succeeded')", timeout=60_000)
            log = page.inner_text("#job-log")
            assert "stored clients@v1" in log and "110105199003072813" not in log
            assert not list(team_workspace.glob("jobs/*/upload/*"))  # the raw upload is gone after the import
            _shot(page, "job")
            page.goto(f"{server}/datasets/clients@v1")
            assert page.inner_text("#privacy-status") == "desensitized"
            findings = page.inner_text("#privacy-findings")
            assert "id_card" in findings and "mobile" in findings
            assert "110105199003072813" not in page.content()
            page.click("#privacy-report-link")  # the import's own HTML report, served by the console
            assert "110105199003072813" not in page.content() and "id_card" in page.content()
            page.go_back()
            _shot(page, "dataset")
            for name in ("jobs", "datasets", "train", "runs", "models", "monitor"):
                page.goto(f"{server}/{name}")
                assert page.locator("h1").count() == 1
                _shot(page, name)
            page.goto(f"{server}/train")
            page.fill("#f-model_name_or_path", "tiny@v1")
            page.fill("#f-extra", "lora_rnak: 4\n")
            page.wait_for_selector("#spec-error", timeout=10_000)  # the CLI's did-you-mean, live
            assert "lora_rank" in page.inner_text("#spec-error")
            page.keyboard.press("Tab")  # keyboard navigation reaches the next control
            page.goto(f"{server}/language/en?next=/jobs")
            assert "Jobs" in page.content()
            page.goto(f"{server}/language/zh?next=/jobs")

            bob = browser.new_context(viewport={"width": 1280, "height": 800})
            bob.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
            bob_page = bob.new_page()
            _login(bob_page, server, "bob")
            bob_page.goto(f"{server}/train")
            assert "train.run" in bob_page.content()  # a reviewer may not train
            bob_page.goto(f"{server}/models")
            _shot(bob_page, "models")
            bob_page.click("#logout")

            bob_page.wait_for_url(f"{server}/login")

            admin = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            admin.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
            admin_page = admin.new_page()
            _login(admin_page, server, "admin")
            admin_page.goto(f"{server}/audit?actor=alice")
            admin_page.click("#verify")  # htmx posts the form with its CSRF token
            admin_page.wait_for_selector("#verify-result.ok")
            assert "dataset.import" in admin_page.inner_text("table")
            _shot(admin_page, "audit")
            admin_page.goto(f"{server}/admin")
            assert (
                "bob" in admin_page.inner_text("table")
                and admin_page.locator("form[action^='/admin']").count() == 0
            )
            _shot(admin_page, "admin")

            page.goto(f"{server}/jobs")
            page.click("#logout")
            page.wait_for_url(f"{server}/login")
            page.goto(f"{server}/jobs")
            assert page.url.endswith("/login")
        finally:
            browser.close()
    assert hosts == {urlsplit(server).netloc}, hosts  # not one request to any other host


def _as(workspace: Path, tmp_path: Path, name: str, *args: str) -> str:
    """Run `stockade ARGS` logged in as NAME (its own named session), as a user at a terminal would."""
    password = tmp_path / f"{name}.pw"
    password.write_text(PASSWORDS[name] + "\n")
    password.chmod(0o600)
    env = {"STOCKADE_SESSION": f"test-{name}"}
    if not list((workspace / "sessions").glob(f"*-named-test-{name}.token")):
        login = run_cli("-w", str(workspace), "login", name, "--password-file", str(password), env=env)
        assert login.returncode == 0, login.stderr
    result = run_cli("-w", str(workspace), *args, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_train_in_the_browser_watch_the_loss_and_approve_as_bob(
    server: str, team_workspace: Path, tmp_path: Path
) -> None:
    from stockade.models.tiny import build_tiny_model

    model = build_tiny_model("qwen2", tmp_path / "tiny-qwen2").path
    _as(team_workspace, tmp_path, "alice", "model", "import", str(model), "--name", "tiny-qwen2")
    _as(team_workspace, tmp_path, "alice", "dev", "sample-dataset", "--out", str(tmp_path / "qa.json"))
    _as(
        team_workspace, tmp_path, "alice", "data", "import", str(tmp_path / "qa.json"), "--name", "finance_qa"
    )
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            alice = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            page = alice.new_page()
            _login(page, server, "alice")
            page.goto(f"{server}/train")
            page.fill("#f-model_name_or_path", "tiny-qwen2@v1")
            page.fill("#f-dataset", "finance_qa")
            page.fill("#f-template", "qwen")
            page.fill("#f-learning_rate", "0.005")
            page.fill("#f-extra", "max_steps: 15\nlogging_steps: 1\ncutoff_len: 64\nsave_steps: 1000\n")
            page.wait_for_selector(
                "#spec-yaml:has-text('max_steps: 15')", timeout=10_000
            )  # live YAML preview
            page.wait_for_selector("#memory-estimate:has-text('GiB')", timeout=30_000)  # the estimator's
            _shot(page, "train")
            page.click("#start-training")
            page.wait_for_selector("#run-link", timeout=90_000)  # the job announced its run
            page.click("#run-link")
            page.wait_for_selector("#loss-chart[data-points]", timeout=60_000)
            seen = []
            for _ in range(200):
                seen.append(int(page.get_attribute("#loss-chart", "data-points") or 0))
                if (
                    page.evaluate(
                        "fetch(location.pathname + '/metrics').then(r => r.json()).then(d => d.status)"
                    )
                    != "running"
                ):
                    break
                page.wait_for_timeout(300)
            page.reload()
            for _ in range(100):
                if int(page.get_attribute("#loss-chart", "data-points") or 0) >= 15:
                    break
                page.wait_for_timeout(200)
            assert int(page.get_attribute("#loss-chart", "data-points") or 0) == 15  # one point per step
            assert page.locator("#loss-chart canvas").count() >= 1  # uPlot drew it
            assert seen == sorted(seen)  # points only ever get added
            run_id = page.url.rsplit("/", 1)[-1]
            assert run_id in page.inner_text("#run-log")  # the training job's log, beside the chart
            _shot(page, "run")

            # export, evaluate and submit as alice (the CLI, same services), then bob approves in the browser
            _as(
                team_workspace,
                tmp_path,
                "alice",
                "export",
                run_id,
                "--merge",
                "--name",
                "finance-qwen",
            )
            _as(
                team_workspace,
                tmp_path,
                "alice",
                "eval",
                "finance-qwen@v1",
                "--dataset",
                "finance_qa@v1",
                "--baseline",
                "tiny-qwen2@v1",
                "--limit",
                "2",
                "--max-new-tokens",
                "4",
            )
            _as(
                team_workspace,
                tmp_path,
                "alice",
                "registry",
                "submit",
                "finance-qwen@v1",
                "--reason",
                "eval attached",
            )
            page.goto(f"{server}/models")
            row = page.locator("tr", has_text="finance-qwen@v1")
            row.locator("select[name=action]").select_option("approve")
            row.locator("input[name=reason]").fill("my own work")
            row.locator("button").click()
            assert "alice (roles: data_steward, trainer) may not do `registry.approve`" in page.content()

            bob = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            bob_page = bob.new_page()
            _login(bob_page, server, "bob")
            bob_page.goto(f"{server}/models")
            row = bob_page.locator("tr", has_text="finance-qwen@v1")
            row.locator("select[name=action]").select_option("approve")
            row.locator("input[name=reason]").fill("eval report checked")
            row.locator("button").click()
            assert "finance-qwen@v1: submitted → approved" in bob_page.inner_text("#model-message")
            _shot(bob_page, "models")
            # the version's page: its evaluation report and lineage; alice deploys it (registry.deploy)
            page.goto(f"{server}/models/finance-qwen@v1")
            assert run_id in page.inner_text("#lineage")
            report = page.inner_text("section[id^=report-]")
            assert "tiny-qwen2@v1" in report and "perplexity" in report  # against the baseline
            page.select_option("#model-action", "deploy")
            page.fill("input[name=reason]", "release to the branch pilot")
            page.click("form[action='/models/action'] button")
            assert "finance-qwen@v1: approved → deployed" in page.inner_text("#model-message")
            page.goto(f"{server}/models/finance-qwen@v1")
            _shot(page, "model")
            bob_page.click("#logout")

            # the playground: chat with the approved version (model.call: an admin here)
            admin = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            admin_page = admin.new_page()
            _login(admin_page, server, "admin")
            admin_page.goto(f"{server}/playground")
            admin_page.select_option("#pg-model", "finance-qwen@v1")
            admin_page.select_option("#pg-compare", "finance-qwen@v1")
            admin_page.fill("#pg-prompt", "什么是LPR？")
            admin_page.fill("#pg-max", "8")
            admin_page.click("#pg-ask")
            admin_page.wait_for_selector(".reply-text", timeout=60_000)
            assert admin_page.locator(".reply").count() == 2  # the version and the one compared
            assert " tokens, " in admin_page.inner_text("#replies")
            _shot(admin_page, "playground")
        finally:
            browser.close()
