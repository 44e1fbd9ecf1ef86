"""Issue 16's proof: in a network namespace with loopback only (`unshare -n`), build the real CPU bundle
(`--exclude-torch`) from a local wheelhouse, install it with its install.sh into a fresh venv that sees
no system packages (torch from the machine's local wheel file), and use the result: `stockade doctor`,
`dev tiny-model`, a short `train` and `chat --prompt-file`. Nothing can come from outside.

The wheelhouse is filled before the tests by `python -m tests.operations.wheelhouse DIR` (`.ci/run` does
it; the one step that reaches the registry) and named by STOCKADE_TEST_WHEELHOUSE; the torch wheel by
STOCKADE_TEST_TORCH_WHEEL (default: the machine's /opt/wheels/torch-2.13.0+cpu-cp311-...whl).
Outside CI a missing one skips, with this how-to; with CI=true it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

WHEELHOUSE = os.environ.get("STOCKADE_TEST_WHEELHOUSE", "")
TORCH_WHEEL = os.environ.get(
    "STOCKADE_TEST_TORCH_WHEEL", "/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
)
IN_CI = os.environ.get("CI") == "true"

SCRIPT = r"""
set -euo pipefail
cd "$WORK"
# 1. build, from the local wheelhouse only (pip: no index, no configuration of this machine)
PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 PIP_FIND_LINKS="$WHEELHOUSE" \
  "$BUILD_PYTHON" -m stockade bundle build --target cpu --exclude-torch --python "$PYVER" \
  --sign-key "$WORK/org.key" --source "$REPO" --out "$WORK/bundle"
# 2. install: a fresh venv (no system site-packages), torch from the carried wheel, the rest --no-index
bash "$WORK/bundle/install.sh" --trusted-key "$WORK/org.key.pub" --venv "$WORK/venv" \
  --python "$TARGET_PYTHON" --torch-wheel "$TORCH_WHEEL"
S="$WORK/venv/bin/stockade"
"$WORK/venv/bin/python" -c 'import sys; assert sys.prefix != sys.base_prefix; import stockade, torch; \
print("stockade from", stockade.__file__)' > "$WORK/where.txt"
# 3. use it
"$S" init "$WORK/ws"
sed -i 's/dev_mode: false/dev_mode: true/' "$WORK/ws/stockade.yaml"
"$S" -w "$WORK/ws" doctor --json > "$WORK/doctor.json" || true   # exit 1 on a full disk is not ours
"$S" -w "$WORK/ws" dev tiny-model --arch qwen2 --out "$WORK/tiny"
"$S" -w "$WORK/ws" model import "$WORK/tiny" --name tiny
"$S" -w "$WORK/ws" dev sample-dataset --out "$WORK/finance.json"
"$S" -w "$WORK/ws" data import "$WORK/finance.json" --name finance
"$S" -w "$WORK/ws" train --model tiny@v1 --dataset finance@v1 --template qwen --finetuning_type lora \
  --max_steps 2 --per_device_train_batch_size 2 --cutoff_len 64 --save_steps 100 --json-progress \
  > "$WORK/train.jsonl"
printf '什么是LPR？' > "$WORK/prompt.txt"
RUN="$(basename "$(ls -d "$WORK"/ws/runs/run-* | tail -n 1)")"
"$S" -w "$WORK/ws" chat tiny@v1 --dev --adapter "$RUN" --prompt-file "$WORK/prompt.txt" \
  --max-new-tokens 4 --json > "$WORK/chat.json"
"""


def _namespace_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False).returncode == 0


def _missing() -> str | None:
    if sys.version_info[:2] != (3, 11):
        return "the repository keeps the CPU lock for Python 3.11 (requirements/lock-cpu-py311.txt)"
    if not _namespace_works():
        return "unshare -n is not permitted here"
    if not WHEELHOUSE or not Path(WHEELHOUSE).is_dir():
        return (
            "no local wheelhouse: run `python -m tests.operations.wheelhouse DIR` (needs the registry) and "
            "set STOCKADE_TEST_WHEELHOUSE=DIR"
        )
    if not Path(TORCH_WHEEL).is_file():
        return f"no torch wheel at {TORCH_WHEEL}: set STOCKADE_TEST_TORCH_WHEEL to a torch 2.13 CPU wheel"
    return None


@pytest.mark.slow
def test_a_cpu_bundle_installs_and_trains_with_no_network(tmp_path: Path) -> None:
    reason = _missing()
    if reason:
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    from stockade.operations.signing import generate_key_pair

    generate_key_pair(tmp_path / "org.key")
    target_python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "STOCKADE_", "VIRTUAL_ENV"))}
    env.update(
        WORK=str(tmp_path), REPO=str(REPO), WHEELHOUSE=WHEELHOUSE, TORCH_WHEEL=TORCH_WHEEL, PYVER="3.11",
        BUILD_PYTHON=sys.executable, TARGET_PYTHON=str(target_python), PYTHONIOENCODING="utf-8",
    )  # fmt: skip
    done = subprocess.run(
        ["unshare", "-n", "bash", "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]

    assert "1/4 checking every file" in done.stdout and "signed by the trusted key" in done.stdout
    assert str(tmp_path / "venv") in (tmp_path / "where.txt").read_text()  # not the test's own stockade
    manifest = json.loads((tmp_path / "bundle/MANIFEST.json").read_text())
    assert manifest["torch"]["included"] is False and manifest["signed_by"]
    assert not any(entry["name"] == "torch" for entry in manifest["files"])
    checks = {(c["group"], c["name"]): c for c in json.loads((tmp_path / "doctor.json").read_text())}
    assert checks[("offline", "default route")]["status"] == "pass"  # really no route out
    lines = (tmp_path / "train.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines if line.startswith("{")]
    assert events[-1]["event"] == "finish" and events[-1]["status"] == "succeeded", events[-3:]
    assert json.loads((tmp_path / "chat.json").read_text())["text"] is not None
