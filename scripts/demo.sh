#!/usr/bin/env bash
# The main job on the embedded default (tiny local model, SQLite, loopback only).
# Each later capability extends this script. Run it with `make demo`.
set -euo pipefail

WS="${DEMO_WORKSPACE:-$PWD/demo-workspace}"
MODEL="$WS/models/tiny-qwen2"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ -e "$WS" ]; then
  step "Removing the previous demo workspace $WS"
  rm -rf "$WS"
fi

step "1. Create a workspace (settings, database, hash-chained audit log, folders)"
stockade init "$WS"
export STOCKADE_HOME="$WS"

step "2. Check the machine, the offline guard and the workspace"
if ! stockade doctor; then
  echo "doctor reported a failure above (often: less free disk than min_free_disk_gb); the demo goes on"
fi

step "3. Build a tiny Qwen2-architecture model locally (no download)"
stockade dev tiny-model --arch qwen2 --out "$MODEL"

step "4. Load it offline and generate a few tokens with its chat template"
stockade dev generate --model "$MODEL" --prompt "解释债券违约风险" --max-new-tokens 8

step "5. The audit log: every state change so far, and its hash chain verified"
stockade audit tail
stockade audit verify

step "Demo finished. Workspace: $WS"
