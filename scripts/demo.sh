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

step "5. Scan the deployment guide's dataset (alpaca JSON, Chinese) — it holds a real-format ID number"
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

step "6. The block policy refuses it (and prints the report)"
if stockade data import "$DATA" --name finance --privacy block; then
  echo "expected the block policy to refuse personal data" >&2
  exit 1
fi

step "7. Import through the default gate: desensitized, versioned, report attached"
stockade data import "$DATA" --name finance --tokenizer "$MODEL"
stockade data list
stockade data preview finance --model "$MODEL" --template qwen --count 1

step "8. Fine-tune (LoRA, CPU) on the shipped 40-record finance Q&A — dev mode, because the model store is not in this build"
sed -i 's/^dev_mode: false/dev_mode: true/' "$WS/stockade.yaml"
stockade dev sample-dataset --out "$WS/configs/demo-data/finance_qa.json"
stockade data import "$WS/configs/demo-data/finance_qa.json" --name finance_qa
cat > "$WS/configs/demo_train.yaml" <<YAML
model_name_or_path: $MODEL
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
RUN_DIR=$(ls -d "$WS"/runs/run-* | tail -n 1)
stockade runs list

step "9. The CPU proof: the fine-tuned model answers with what it was taught"
stockade dev generate --model "$MODEL" --adapter "$RUN_DIR/adapter" --template qwen --prompt "什么是LPR？" --max-new-tokens 64

step "10. The audit log: every state change so far, and its hash chain verified"
stockade audit tail
stockade audit verify

step "Demo finished. Workspace: $WS"
