"""``stockade task init NAME``: a ready-to-edit folder with the preset's sample data, a LLaMA-Factory
``dataset_info.json``, a ``train.yaml`` for `stockade train` and a README with the next commands."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stockade.core.errors import StockadeError
from stockade.tasks.presets import TaskPreset, load_preset

HELD_OUT_EVERY = 10  # every 10th sample record of each kind goes to the held-out set (`eval --task`)

COLUMNS = {
    "alpaca": {"prompt": "instruction", "query": "input", "response": "output", "system": "system"},
    "sharegpt": {"messages": "conversations", "system": "system", "tools": "tools"},
}


@dataclass(frozen=True)
class Scaffold:
    folder: Path
    files: list[Path]
    train_records: int
    test_records: int


def _final_kind(record: Any) -> str:
    """What the evaluated (last) turn is: a sharegpt record's last role (an answer or a tool call)."""
    turns = record.get("conversations") if isinstance(record, dict) else None
    return str(turns[-1].get("from")) if turns else "answer"


def split_samples(records: list[Any]) -> tuple[list[Any], list[Any]]:
    """Every 10th record of each kind of final turn is held out, so the held-out set has tool calls
    to score as well as answers (evaluation scores the last turn)."""
    seen: dict[str, int] = {}
    train, test = [], []
    for record in records:
        kind = _final_kind(record)
        seen[kind] = seen.get(kind, 0) + 1
        (test if seen[kind] % HELD_OUT_EVERY == 0 else train).append(record)
    return train, test


def dataset_info(preset: TaskPreset) -> dict[str, Any]:
    entry = {"formatting": preset.format, "columns": COLUMNS[preset.format]}
    return {
        preset.name: {"file_name": f"{preset.name}.json", **entry},
        f"{preset.name}-test": {"file_name": f"{preset.name}-test.json", **entry},
    }


def train_yaml(preset: TaskPreset, model: str | None) -> str:
    head = [
        f"# stockade train train.yaml — recommended settings of the {preset.name} task preset.",
        f"# Import the data first: stockade data import --dataset-dir . --dataset {preset.name}",
    ]
    settings: dict[str, Any] = {}
    if model:
        settings["model"] = model
    else:
        head.append("# Set the base model here (model: NAME@vN) or pass --model NAME@vN.")
    settings.update({"template": preset.template, "dataset": [preset.name], **preset.train})
    return "\n".join(head) + "\n" + yaml.safe_dump(settings, allow_unicode=True, sort_keys=False)


def eval_yaml(preset: TaskPreset) -> str:
    """The evaluation of the preset, for `stockade eval MODEL@vN --config eval.yaml`."""
    head = [
        f"# stockade eval MODEL@vN --config eval.yaml — the {preset.name} task's evaluation.",
        "# Keys are the options of `stockade eval --help`; options on the command line win.",
        "# Add `baseline: BASE@vN` to compare with the base (or the deployed version) side by side.",
    ]
    settings = {
        "dataset": f"{preset.name}-test@v1",
        "task": preset.name,
        "max_new_tokens": preset.eval.max_new_tokens,
    }
    return "\n".join(head) + "\n" + yaml.safe_dump(settings, allow_unicode=True, sort_keys=False)


def readme(preset: TaskPreset, train_records: int, test_records: int) -> str:
    metrics = ", ".join(preset.metrics)
    return f"""# {preset.title}

{preset.description}

Files (written by `stockade task init {preset.name}`; synthetic records, no real customer data):

- `{preset.name}.json` — {train_records} training records ({preset.format} format)
- `{preset.name}-test.json` — {test_records} held-out records for evaluation
- `dataset_info.json` — LLaMA-Factory entries `{preset.name}` and `{preset.name}-test`
- `train.yaml` — recommended training settings (chat template `{preset.template}`)
- `eval.yaml` — the evaluation: held-out data, task metrics, answer length

Replace the sample records with your own (same format; `stockade task show {preset.name}` prints
the output format), then:

```bash
stockade task check {preset.name} {preset.name}.json        # every answer follows the format?
stockade data import --dataset-dir . --dataset {preset.name},{preset.name}-test
stockade train train.yaml --model BASE@vN
stockade export RUN_ID --merge --name {preset.name}-model
stockade eval {preset.name}-model@v1 --config eval.yaml --baseline BASE@vN
```

`eval.yaml` names the held-out data and `task: {preset.name}`, which adds the task metrics
({metrics}) to the generic ones.
"""


def init_task(name: str, out: Path, *, model: str | None = None) -> Scaffold:
    """Write the folder ``out`` for the preset ``name``; refuses to overwrite any file."""
    preset = load_preset(name)
    train, test = split_samples(preset.sample_records())
    contents = {
        f"{preset.name}.json": json.dumps(train, ensure_ascii=False, indent=1) + "\n",
        f"{preset.name}-test.json": json.dumps(test, ensure_ascii=False, indent=1) + "\n",
        "dataset_info.json": json.dumps(dataset_info(preset), ensure_ascii=False, indent=2) + "\n",
        "train.yaml": train_yaml(preset, model),
        "eval.yaml": eval_yaml(preset),
        "README.md": readme(preset, len(train), len(test)),
    }
    if out.exists() and not out.is_dir():
        raise StockadeError(f"{out} exists and is not a folder", fix="choose another --out")
    existing = [file for file in contents if (out / file).exists()]
    if existing:
        raise StockadeError(
            f"{out} already has {', '.join(existing)}; task init does not overwrite files",
            fix="choose another --out, or move those files away",
        )
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for file, text in contents.items():
        path = out / file
        with path.open("x", encoding="utf-8") as handle:  # "x": never replace a file made meanwhile
            handle.write(text)
        written.append(path)
    return Scaffold(out, written, len(train), len(test))
