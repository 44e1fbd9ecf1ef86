"""Resolve a TrainSpec against the workspace: which model folder, which dataset versions, which
template — refusing anything that is not allowed to train — then tokenize the data."""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from stockade.core.errors import ConfigError, DependencyMissing, StockadeError
from stockade.core.hashing import folder_manifest
from stockade.core.paths import resolved, user_path
from stockade.core.references import parse_model_reference
from stockade.core.specs import TrainSpec
from stockade.data.records import STAGE_OF_KIND, record_kind
from stockade.data.versions import find_version

TRAINABLE_PRIVACY = ("passed", "desensitized")


@dataclass(frozen=True)
class ResolvedDataset:
    ref: str
    content_sha256: str
    rows: int
    privacy: str
    path: Path

    def lineage(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "content_sha256": self.content_sha256,
            "rows": self.rows,
            "privacy": self.privacy,
        }


@dataclass
class TrainPlan:
    spec: TrainSpec
    model_dir: Path
    model_manifest_sha256: str
    datasets: list[ResolvedDataset]
    eval_datasets: list[ResolvedDataset] = field(default_factory=list)  # held-out versions, gated too


@dataclass
class EncodedData:
    train: list[Any]
    eval: list[Any]
    pad_token_id: int
    template: str
    records: int
    skipped: dict[str, int] = field(default_factory=dict)


def resolve_plan(
    engine: Any,
    workspace_root: Path,
    dev_mode: bool,
    spec: TrainSpec,
    *,
    verify: str = "fast",
    record: Any = None,
) -> TrainPlan:
    """``verify`` (fast|full) checks a registered model's files before use; ``record`` audits a mismatch."""
    if not spec.model:
        raise ConfigError(
            "no model given", where="train spec: model", fix="set model: (or --model_name_or_path)"
        )
    reference = parse_model_reference(spec.model, base_dir=Path.cwd(), where="train spec: model")
    if reference.kind == "registered":
        model_dir, manifest_sha256 = _registered_model(engine, workspace_root, spec.model, verify, record)
    elif not dev_mode:
        raise StockadeError(
            "training from a local model folder needs dev mode; outside it, train registered models",
            where=f"train spec: model {spec.model}",
            fix=f"register it: `stockade model import {spec.model} --name NAME`, then use model: NAME@v1 "
            "(or set dev_mode: true in stockade.yaml, recorded with every run)",
        )
    else:
        model_dir, manifest_sha256 = reference.path, folder_manifest(reference.path)["sha256"]
    if spec.dataset_dir:
        raise ConfigError(
            "dataset_dir: Stockade trains on imported, gated dataset versions, not on a folder "
            f"({resolved(spec.dataset_dir)})",
            where="train spec: dataset_dir",
            fix=f"import first: stockade data import --dataset-dir {user_path(spec.dataset_dir)} --dataset "
            f"{','.join(spec.dataset) or 'NAME'}; then drop dataset_dir",
        )
    if not spec.dataset:
        raise ConfigError("no dataset given", where="train spec: dataset", fix="set dataset: NAME@vN")
    plan = TrainPlan(
        spec,
        model_dir,
        manifest_sha256,
        [_resolve_dataset(engine, workspace_root, ref) for ref in spec.dataset],
        [_resolve_dataset(engine, workspace_root, ref) for ref in spec.eval_dataset],
    )
    for dataset in [*plan.datasets, *plan.eval_datasets]:
        check_kind(dataset, spec.stage)
    return plan


KIND_OF_STAGE = {stage: kind for kind, stage in STAGE_OF_KIND.items()}
KIND_WORDS = {
    "conversation": "conversations (supervised fine-tuning)",
    "text": "plain text (continued pre-training)",
    "preference": "preference pairs, chosen/rejected",
    "kto": "answers tagged desirable or not (kto_tag)",
}


def check_kind(dataset: ResolvedDataset, stage: str) -> None:
    """Refuse a dataset version whose records are not the kind ``stage`` trains on (its first record says)."""
    with dataset.path.open(encoding="utf-8") as handle:
        first = handle.readline()
    kind = record_kind(json.loads(first)) if first.strip() else KIND_OF_STAGE[stage]
    if kind != KIND_OF_STAGE[stage]:
        raise ConfigError(
            f"{dataset.ref} holds {KIND_WORDS[kind]}; "
            f"stage {stage} trains on {KIND_WORDS[KIND_OF_STAGE[stage]]}",
            where="train spec: dataset",
            fix=f"use stage: {STAGE_OF_KIND[kind]} for it, or a dataset of the right kind",
        )


def _registered_model(
    engine: Any, workspace_root: Path, reference: str, verify: str, record: Any
) -> tuple[Path, str]:
    """A registered, active, intact model version: its folder and manifest hash."""
    from stockade.models.store.integrity import verify_before_use
    from stockade.models.store.resolve import model_path, resolve_model_version

    with Session(engine) as session:
        row = resolve_model_version(session, reference)
        ref = f"{row.name}@v{row.version}"
        if row.kind == "adapter":
            raise StockadeError(
                f"{ref} is a LoRA adapter, not a complete model, and cannot be a base for training",
                fix="train on its base version (`stockade model show` names it), or export it with --merge",
            )
        verify_before_use(workspace_root, row, purpose="training", mode=verify, record=record)
        return model_path(workspace_root, row), row.manifest_sha256


def _resolve_dataset(engine: Any, workspace_root: Path, reference: str) -> ResolvedDataset:
    with Session(engine) as session:
        row = find_version(session, reference)
    ref = f"{row.name}@v{row.version}"
    status = json.loads(row.privacy).get("status")
    if row.status != "active":
        raise StockadeError(
            f"{ref} was removed and cannot train", fix="use another version (stockade data list)"
        )
    if status not in TRAINABLE_PRIVACY:
        raise StockadeError(
            f"{ref} did not pass the privacy gate (verdict: {status}); only passed or desensitized data",
            fix=f"re-import it with the desensitize policy: stockade data import ... --name {row.name}",
        )
    return ResolvedDataset(ref, row.content_sha256, row.rows, status, workspace_root / row.path)


def load_tokenizer_and_template(plan: TrainPlan) -> tuple[Any, Any]:
    """The base model's tokenizer (no weights) and the chat template the run will use."""
    try:
        from transformers import AutoTokenizer
    except ModuleNotFoundError:
        raise DependencyMissing(
            "transformers is not installed", fix="pip install 'stockade[train]'"
        ) from None
    from stockade.data.templates import resolve_template

    tokenizer = AutoTokenizer.from_pretrained(plan.model_dir, local_files_only=True)
    return tokenizer, resolve_template(plan.spec.template, tokenizer)


# preprocessing_num_workers: each worker process gets at least this many records (a worker's start-up,
# importing transformers and loading the tokenizer, costs a few seconds)
MIN_LINES_PER_WORKER = 64


def _encode_line(line: str, spec: TrainSpec, tokenizer: Any, template: Any) -> Any:
    """One stored record, encoded for the spec's stage (a list of pieces for pt)."""
    from stockade.data import tokenization as tk
    from stockade.data.records import parse_record

    record: Any = parse_record(json.loads(line))
    if spec.stage == "pt":
        return list(tk.encode_text(record.text, tokenizer, cutoff_len=spec.cutoff_len))
    if spec.stage == "dpo":
        return tk.encode_pair(
            record.conversation("chosen"),
            record.conversation("rejected"),
            tokenizer,
            template,
            cutoff_len=spec.cutoff_len,
        )
    if spec.stage == "kto":
        parts = tk.split_last_answer(record.conversation(), tokenizer, template)
        return parts if isinstance(parts, tk.Skipped) else tk.KtoEncoded(parts, record.kto_tag)
    return tk.encode_conversation(record, tokenizer, template, cutoff_len=spec.cutoff_len)


_WORKER: dict[str, Any] = {}  # a tokenizing process's tokenizer, template and spec


def _start_worker(plan: TrainPlan) -> None:
    _WORKER["tokenizer"], _WORKER["template"] = load_tokenizer_and_template(plan)
    _WORKER["spec"] = plan.spec


def _encode_lines(lines: list[str]) -> list[Any]:
    return [_encode_line(line, _WORKER["spec"], _WORKER["tokenizer"], _WORKER["template"]) for line in lines]


def _encode_in_processes(plan: TrainPlan, lines: list[str], workers: int) -> list[Any]:
    """preprocessing_num_workers: the records tokenized by ``workers`` spawned processes, in order (the
    same examples as one process gives). Spawned, not forked: the parent may already hold tokenizer
    threads, which a fork would copy locked."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    size = -(-len(lines) // (workers * 4))  # a few chunks per worker, so an uneven chunk does not stall
    chunks = [lines[i : i + size] for i in range(0, len(lines), size)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(plan,)
    ) as pool:
        return [encoded for chunk in pool.map(_encode_lines, chunks) for encoded in chunk]


def encode_datasets(plan: TrainPlan, cache_dir: Path | None = None) -> EncodedData:
    """Tokenize every record for the spec's stage (sft: template and label masking; pt: plain text with
    eos between documents; dpo: chosen/rejected sequences; kto: tagged answers with KL companions);
    split validation by seed.

    With ``cache_dir``, each dataset version's tokens are kept there (:mod:`.token_cache`, keyed by the
    dataset, the model's manifest, template, cutoff and ``max_samples``): a second run with the same
    setting loads them instead of tokenizing, and does not load the tokenizer at all.
    """
    from stockade.training import token_cache

    spec = plan.spec
    loaded: list[Any] = []  # (tokenizer, template), loaded on the first cache miss

    def tokenizer_and_template() -> tuple[Any, Any]:
        if not loaded:
            loaded.extend(load_tokenizer_and_template(plan))
        return loaded[0], loaded[1]

    def encode_one(dataset: ResolvedDataset) -> token_cache.Encoded:
        from stockade.data import tokenization as tk

        tokenizer, template = tokenizer_and_template()
        lines: list[str] = []
        with dataset.path.open(encoding="utf-8") as handle:
            for index, line in enumerate(handle):
                if spec.max_samples is not None and index >= spec.max_samples:
                    break
                lines.append(line)
        records = len(lines)
        workers = min(spec.preprocessing_num_workers or 1, max(1, records // MIN_LINES_PER_WORKER))
        if workers > 1:
            results = _encode_in_processes(plan, lines, workers)
        else:
            results = [_encode_line(line, spec, tokenizer, template) for line in lines]
        out: list[Any] = []
        skipped = Counter[str]()
        for encoded in results:
            if isinstance(encoded, tk.Skipped):
                skipped[encoded.reason] += 1
            elif isinstance(encoded, list):  # pt: a document gives one or more pieces
                out.extend(encoded)
            else:
                out.append(encoded)
        if spec.stage == "kto":  # each example with another's answer, for the KL estimate
            samples = tk.kto_samples(out, spec.cutoff_len)
            if len(samples) < len(out):
                skipped["no_trainable_tokens"] += len(out) - len(samples)
            out = list(samples)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        return token_cache.Encoded(out, records, dict(skipped), template.name, int(pad))

    parts: list[token_cache.Encoded] = []

    def encode(datasets: list[ResolvedDataset]) -> list[Any]:
        out = []
        for dataset in datasets:
            key = token_cache.cache_key(
                dataset.content_sha256,
                plan.model_manifest_sha256,
                spec.template,
                spec.cutoff_len,
                spec.max_samples,
            )
            # the cache holds token sequences (sft, pt); pairs and KTO samples are encoded each time
            folder = cache_dir if spec.stage in ("sft", "pt") else None
            part, _ = token_cache.cached(folder, key, lambda d=dataset: encode_one(d))
            parts.append(part)
            out.extend(part.examples)
        return out

    examples = encode(plan.datasets)
    records = sum(p.records for p in parts)
    skipped: Counter[str] = Counter()
    for part in parts:
        skipped.update(part.skipped)
    if not examples:
        raise StockadeError(
            "no example left to train on after tokenization", fix="raise cutoff_len or check data"
        )
    pad, template_name = parts[0].pad_token_id, parts[0].template
    if plan.eval_datasets:  # held-out versions replace the val_size split
        held = encode(plan.eval_datasets)
        return EncodedData(examples, held, pad, template_name, records, dict(skipped))
    random.Random(spec.seed).shuffle(examples)  # noqa: S311 - a reproducible split, not security
    held_out = int(len(examples) * spec.val_size)
    return EncodedData(examples[held_out:], examples[:held_out], pad, template_name, records, dict(skipped))
