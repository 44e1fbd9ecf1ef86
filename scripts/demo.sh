#!/usr/bin/env bash
# The main job on the embedded default (tiny local model, SQLite, loopback only).
# Each later capability extends this script. Run it with `make demo`.
set -euo pipefail

WS="${DEMO_WORKSPACE:-$PWD/demo-workspace}"
MODEL="$WS-tiny-qwen2"  # built beside the workspace; `model import` copies it into the store

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ -e "$WS" ]; then
  step "Removing the previous demo workspace $WS"
  rm -rf "$WS" "$MODEL"
fi

SECRETS="$(mktemp -d)"
trap 'rm -rf "$SECRETS"; [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null || true' EXIT
printf 'demo-admin-password\n' >"$SECRETS/admin.pw"
printf 'demo-alice-password\n' >"$SECRETS/alice.pw"
printf 'demo-bob-password\n' >"$SECRETS/bob.pw"
printf 'demo-teller-app-password\n' >"$SECRETS/teller-app.pw"
as_user() { stockade login "$1" --password-file "$SECRETS/$1.pw" >/dev/null && echo "(now acting as $1)"; }

step "1. Create a workspace (settings, database, hash-chained audit log, folders) and its first admin"
stockade init "$WS" --admin-name admin --admin-password-file "$SECRETS/admin.pw"
export STOCKADE_HOME="$WS"

step "2. Check the machine, the offline guard and the workspace"
if ! stockade doctor; then
  echo "doctor reported a failure above (often: less free disk than min_free_disk_gb); the demo goes on"
fi

step "3. Users: alice trains (maker), bob reviews (checker), teller-app calls the API"
stockade user add alice --role trainer --password-file "$SECRETS/alice.pw"
stockade user add bob --role reviewer --password-file "$SECRETS/bob.pw"
stockade user add teller-app --role api_client --password-file "$SECRETS/teller-app.pw"
stockade user list

step "4. Build a tiny Qwen2-architecture model locally (no download) and register it in the model store"
stockade dev tiny-model --arch qwen2 --out "$MODEL"
stockade model import "$MODEL" --name tiny-qwen2
stockade model verify tiny-qwen2@v1

step "5. Load it offline and generate a few tokens with its chat template"
stockade dev generate --model "$MODEL" --prompt "解释债券违约风险" --max-new-tokens 8

step "6. Scan the deployment guide's dataset (alpaca JSON, Chinese) — it holds a real-format ID number"
DATA="$WS/configs/demo-data/dataset.json"
mkdir -p "$(dirname "$DATA")"
cat > "$DATA" <<'JSON'
[
  {"instruction": "生成风险评估报告", "input": "客户A,年龄35,年收入50万,身份证号110105199003072813,手机13812345678", "output": "根据评估标准,该客户风险承受能力中等,建议配置稳健型产品。"},
  {"instruction": "解释债券违约风险", "input": "", "output": "债券违约风险是指发行人不能按期足额支付本息的可能性。"},
  {"instruction": "什么是LPR", "input": "", "output": "LPR即贷款市场报价利率,是银行贷款定价的主要参考。"}
]
JSON
stockade data scan "$DATA"

step "7. The block policy refuses it (and prints the report)"
if stockade data import "$DATA" --name finance --privacy block; then
  echo "expected the block policy to refuse personal data" >&2
  exit 1
fi

step "8. Import through the default gate: desensitized, versioned, report attached"
stockade data import "$DATA" --name finance --tokenizer "$MODEL"
stockade data list
stockade data preview finance --model "$MODEL" --template qwen --count 1
stockade dev sample-dataset --out "$WS/configs/demo-data/finance_qa.json"
stockade data import "$WS/configs/demo-data/finance_qa.json" --name finance_qa

step "9. alice fine-tunes the registered model (LoRA, CPU) on the shipped 40-record finance Q&A"
as_user alice
cat > "$WS/configs/demo_train.yaml" <<YAML
model_name_or_path: tiny-qwen2@v1
dataset: finance_qa
template: qwen
finetuning_type: lora
lora_rank: 8
learning_rate: 5.0e-3
lr_scheduler_type: constant
num_train_epochs: 60
per_device_train_batch_size: 8
cutoff_len: 128
gradient_checkpointing: false
save_steps: 100
seed: 0
YAML
stockade train "$WS/configs/demo_train.yaml"
RUN_ID=$(basename "$(ls -d "$WS"/runs/run-* | tail -n 1)")
stockade runs list

step "10. The CPU proof: the fine-tuned model answers with what it was taught"
stockade dev generate --model "$MODEL" --adapter "$WS/runs/$RUN_ID/adapter" --template qwen --prompt "什么是LPR？" --max-new-tokens 64

step "11. Merge the adapter into a new model version (logits checked), and evaluate it against the base"
stockade export "$RUN_ID" --merge --name finance-qwen
stockade eval finance-qwen@v1 --dataset finance_qa@v1 --baseline tiny-qwen2@v1 --limit 4 --max-new-tokens 32

step "12. Maker-checker: alice submits; alice cannot approve her own version; bob approves"
stockade registry submit finance-qwen@v1 --reason "memorises the finance Q&A; eval report attached"
if stockade registry approve finance-qwen@v1 --reason "self-approval"; then
  echo "expected maker-checker to refuse alice's own approval" >&2
  exit 1
fi
as_user bob
stockade registry approve finance-qwen@v1 --reason "eval report checked: exact match on the Q&A"
as_user alice
stockade registry deploy finance-qwen@v1 --reason "demo deployment"
stockade registry lineage finance-qwen@v1

step "13. Serve the approved version over HTTPS (internal CA) with a token; the deployment guide's curl"
as_user admin
stockade pki init
stockade pki issue --host localhost --ip 127.0.0.1
TOKEN=$(stockade token issue --user teller-app --role api_client --ttl 600 --model finance-qwen@v1 | tail -n 1)
PORT="${DEMO_PORT:-5443}"
stockade serve --model finance-qwen@v1 --template qwen --port "$PORT" --tls >"$WS/logs/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 120); do
  curl -sf --cacert "$WS/pki/ca.crt" "https://127.0.0.1:$PORT/health" >/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WS/logs/serve.log"; exit 1; }
  sleep 0.5
done
echo "without a token:"
curl -s --cacert "$WS/pki/ca.crt" -o /dev/null -w "HTTP %{http_code}\n" -X POST "https://127.0.0.1:$PORT/generate" \
  -H 'Content-Type: application/json' -d '{"inputs":"解释债券违约风险","parameters":{"max_new_tokens":20}}'
echo "with it (the guide's request body):"
curl -sS --cacert "$WS/pki/ca.crt" -X POST "https://127.0.0.1:$PORT/generate" \
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"inputs":"解释债券违约风险","parameters":{"max_new_tokens":200}}'
echo
echo "a question it was trained on, through the OpenAI-compatible route (greedy):"
curl -sS --cacert "$WS/pki/ca.crt" -X POST "https://127.0.0.1:$PORT/v1/chat/completions" \
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"model":"finance-qwen@v1","messages":[{"role":"user","content":"什么是LPR？"}],"max_tokens":64,"temperature":0}'
echo
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true
SERVER_PID=

step "14. The audit log: every state change so far, and its hash chain and signed checkpoints verified"
stockade audit tail -n 25
stockade audit verify

step "Demo finished. Workspace: $WS"
