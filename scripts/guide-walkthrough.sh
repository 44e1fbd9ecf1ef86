#!/usr/bin/env bash
# The deployment guide (安全第一：在企业内网中使用Llama Factory的合规部署方案), step by step, in
# Stockade's words: a tiny local model stands in for Qwen-7B. docs/deployment-guide.md maps each step.
#
# Fails on any error, and on any line on stderr that is not expected (the allowlist in check_stderr):
# a newcomer following the guide should see no warning, traceback or hub message.
#
#   WALK_DIR   the folder to work in (default: a new temporary folder); it must not exist yet or be empty
#   WALK_PORT  the API port (default 5000, the guide's)
#   WALK_STOP_AFTER=environment  stop after the first step (and check its stderr): for the script's own test
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FIXTURES="$REPO/tests/fixtures/llamafactory-data"
WORK="${WALK_DIR:-$(mktemp -d)}"
PORT="${WALK_PORT:-5000}"
mkdir -p "$WORK"
[ -z "$(ls -A "$WORK")" ] || { echo "WALK_DIR $WORK is not empty" >&2; exit 1; }
WS="$WORK/stockade-workspace"     # the workspace: database, audit log, model and dataset stores
PROJECT="$WORK/llm"               # the guide's working folder (its LLaMA-Factory checkout)
SECRETS="$WORK/secrets"
ERR="$WORK/stderr.log"            # everything the commands print on stderr, checked at the end
unset STOCKADE_SESSION
export STOCKADE_HOME="$WS"
export COLUMNS="${COLUMNS:-160}"   # tables and the server's log lines unwrapped in files

exec 3>&2 2>"$ERR"
on_exit() {
  status=$?
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null
  if [ "$status" -ne 0 ]; then
    echo "walk-through FAILED (exit $status); stderr so far:" >&3
    cat "$ERR" >&3
    [ -f "$PROJECT/logs/api.log" ] && { echo "--- logs/api.log:" >&3; cat "$PROJECT/logs/api.log" >&3; }
  fi
  exit "$status"
}
trap on_exit EXIT

step() { printf '\n== %s\n' "$*"; }
# The maker and the checker each work in their own session (as in their own terminals): a login in one
# never changes who acts in the other (docs/governance.md, "Sessions").
as_maker() { STOCKADE_SESSION=maker stockade "$@"; }
as_checker() { STOCKADE_SESSION=checker stockade "$@"; }
# A command that must fail: its output is captured (not part of stderr) and must contain $1.
refused() {
  local expected="$1" output
  shift
  if output="$("$@" 2>&1)"; then
    echo "expected a refusal from: $*" >&3
    exit 1
  fi
  printf '%s\n' "$output"
  case "$output" in *"$expected"*) ;; *) echo "the refusal of '$*' does not say: $expected" >&3; exit 1 ;; esac
}

# Everything on stderr must be expected: the acting user of each state-changing command, and
# training's progress lines. Anything else (a warning, a traceback, a hub message) fails the walk.
check_stderr() {
  ACTING='as [A-Za-z0-9_.-]+ \((roles: [a-z_,]+|OS user, not logged in)\)'
  PROGRESS='.*(it/s|s/it)\]'   # transformers' progress bars (loading weights, writing shards)
  UNEXPECTED="$(grep -Ev "^($ACTING|$PROGRESS)$" "$ERR" || true)"
  SERVER_UNEXPECTED="$(grep -Evs "^($ACTING|serving finance-qwen@v1 on http://127.0.0.1:$PORT .*)$" "$PROJECT/logs/api.log" || true)"
  if [ -n "$UNEXPECTED$SERVER_UNEXPECTED" ]; then
    echo "unexpected output on stderr:" >&3
    printf '%s\n' "$UNEXPECTED" >&3
    [ -n "$SERVER_UNEXPECTED" ] && { echo "--- in logs/api.log:" >&3; printf '%s\n' "$SERVER_UNEXPECTED" >&3; }
    exit 1
  fi
}

mkdir -p "$SECRETS" "$PROJECT" && chmod 700 "$SECRETS"
printf 'walkthrough-admin-password\n' >"$SECRETS/admin.pw"
printf 'walkthrough-alice-password\n' >"$SECRETS/alice.pw"
printf 'walkthrough-bob-password\n' >"$SECRETS/bob.pw"
chmod 600 "$SECRETS"/*.pw
cd "$PROJECT"

step "环境准备 / Environment: check the machine before anything exists (CUDA, disk, locale), then make the workspace"
# doctor's verdict depends on the machine (no GPU, little disk): the walk-through only needs it to run cleanly
stockade doctor || echo "(doctor reported a failure above; on this machine that is expected)"
stockade version
stockade init "$WS" --admin-name admin --admin-password-file "$SECRETS/admin.pw"
stockade user add alice --role trainer --password-file "$SECRETS/alice.pw"   # maker
stockade user add bob --role reviewer --password-file "$SECRETS/bob.pw"      # checker
as_maker login alice --password-file "$SECRETS/alice.pw"
as_checker login bob --password-file "$SECRETS/bob.pw"
stockade whoami      # this terminal is still the admin's
if [ "${WALK_STOP_AFTER:-}" = environment ]; then check_stderr; exit 0; fi   # (tests of the check itself)

step "导入基础模型 / Import the base model (a tiny Qwen2 model built here stands in for Qwen-7B)"
stockade dev tiny-model --arch qwen2 --out "$WORK/downloaded/Qwen-7B"
mkdir -p models/Qwen-7B
cp "$WORK"/downloaded/Qwen-7B/* models/Qwen-7B/
stockade model import models/Qwen-7B --name Qwen-7B
stockade model verify Qwen-7B@v1

step "准备合规数据集 / The dataset: the guide's JSON file in data/finance/, and a LLaMA-Factory data folder"
mkdir -p data/finance
cat >dataset.json <<'JSON'
[ { "instruction": "生成风险评估报告", "input": "客户A,年龄35,年收入50万", "output": "根据评估标准,该客户..." } ]
JSON
mv dataset.json data/finance/
stockade data scan data/finance/dataset.json
stockade data import data/finance/dataset.json --name finance
stockade data import --dataset-dir "$FIXTURES" --dataset identity
stockade data list

step "启动微调任务 / Fine-tune: the web UI is \`stockade webui --port 7860\` (docs/webui.md); its settings are train flags"
[[ "$(stockade webui --help)" == *"--port"* ]]
cd "$WS"   # save the config in the workspace's configs/ folder, and reuse it from there
# the web UI's settings (model path, data path, epochs=3, batch_size=4), checked and saved without training
as_maker train --model_name_or_path Qwen-7B@v1 --dataset finance,identity --template qwen \
  --num_train_epochs 3 --per_device_train_batch_size 4 --cutoff_len 128 \
  --save-config configs/finance_cfg.yaml --dry-run >/dev/null
test -f "$WS/configs/finance_cfg.yaml"
as_maker train configs/finance_cfg.yaml   # the saved config, reused as it is
RUN_ID="$(basename "$(ls -d "$WS"/runs/run-* | tail -n 1)")"
cd "$PROJECT"
as_maker runs list

step "评测与导出 / Merge the adapter into a model version and evaluate it"
as_maker export "$RUN_ID" --merge --name finance-qwen
as_maker eval finance-qwen@v1 --dataset finance@v1 --limit 1 --max-new-tokens 8

step "内部审批流程 / Approval (maker-checker): alice submits, cannot approve her own; bob approves"
as_maker registry submit finance-qwen@v1 --reason "guide walk-through: eval report attached"
refused "may not" as_maker registry approve finance-qwen@v1 --reason "self-approval"
as_checker registry approve finance-qwen@v1 --reason "eval report checked"

step "内部API服务 / Serve the approved version (hf stands in for vllm: no GPU here); logs as in the guide"
stockade user add teller-app --service
TOKEN="$(stockade token issue --user teller-app --role api_client --ttl 600 --model finance-qwen@v1 | tail -n 1)"
mkdir -p logs
nohup stockade serve --model_name_or_path finance-qwen@v1 --template qwen --infer_backend hf --port "$PORT" \
  >logs/api.log 2>&1 &
SERVER_PID=$!
for _ in $(seq 600); do   # up to 5 minutes on a loaded machine
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server exited" >&3; exit 1; }
  sleep 0.5
done

step "验证接口连通性 / The guide's curl: without a token (401, with the way to get one), then with one"
NO_TOKEN="$(curl -s -X POST "http://127.0.0.1:$PORT/generate" \
  -H "Content-Type: application/json" \
  -d '{"inputs":"解释债券违约风险","parameters":{"max_new_tokens":200}}')"
echo "$NO_TOKEN"
case "$NO_TOKEN" in *"stockade token issue"*) ;; *) echo "401 without the hint" >&3; exit 1 ;; esac
ANSWER="$(curl -sS -X POST "http://127.0.0.1:$PORT/generate" \
  -H "Authorization: Bearer $TOKEN" \
  -H "Content-Type: application/json" \
  -d '{"inputs":"解释债券违约风险","parameters":{"max_new_tokens":200}}')"
echo "$ANSWER"
case "$ANSWER" in '{"generated_text":'*) ;; *) echo "no generated_text in the answer" >&3; exit 1 ;; esac
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true
SERVER_PID=

step "运维监控 / Operate: the audit log holds every step above, hash chain verified"
stockade registry lineage finance-qwen@v1 >/dev/null
stockade audit verify

check_stderr
step "Walk-through finished: every step of the guide ran, stderr held only the expected lines"
