"""Multiple-choice benchmarks (C-Eval, CMMLU, MMLU style) from local files, scored as LLaMA-Factory's
evaluator does: the prompt is a chat (k dev-split examples as earlier turns, then the question), and
the answer is the option letter whose next-token logit is highest at the end of the prompt (softmax
over the letters' logits, argmax).

Layout (the user brings the files; nothing downloads)::

    DIR/dev/<subject>_dev.csv      few-shot examples (optional with --shots 0)
    DIR/val/<subject>_val.csv      scored questions (or test/, or --split NAME)
    DIR/mapping.json               optional: {"<subject>": {"name": "显示名", ...}} as LLaMA-Factory's

Files are CSV (a header with question, A, B, C, D, answer in any case and order — C-Eval's and CMMLU's
— or MMLU's six headerless columns), a JSON list of such objects, or JSONL. Differences from
LLaMA-Factory, on purpose: the few-shot examples are the first k of the dev split (LLaMA-Factory
shuffles them), so a score is reproducible.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stockade.core.errors import StockadeError
from stockade.data.records import Conversation, Turn

CHOICES = ("A", "B", "C", "D")
SUFFIXES = (".csv", ".json", ".jsonl")


@dataclass(frozen=True)
class PromptStyle:
    system: str
    choice: str
    answer: str


ZH = PromptStyle(
    "以下是中国关于{subject}考试的单项选择题，请选出其中的正确答案。\n\n", "\n{choice}. {content}", "\n答案："
)
EN = PromptStyle(
    "The following are multiple choice questions (with answers) about {subject}.\n\n",
    "\n{choice}. {content}",
    "\nAnswer:",
)
BENCHMARKS: dict[str, PromptStyle] = {"ceval": ZH, "cmmlu": ZH, "mmlu": EN}


@dataclass(frozen=True)
class Question:
    subject: str
    index: int
    question: str
    options: tuple[str, str, str, str]
    answer: str


@dataclass
class Subject:
    name: str  # the file's subject key
    title: str  # shown in the prompt
    dev: list[Question]
    questions: list[Question]


@dataclass
class Benchmark:
    name: str
    folder: Path
    split: str
    shots: int
    subjects: list[Subject]
    content_sha256: str

    @property
    def questions(self) -> int:
        return sum(len(s.questions) for s in self.subjects)


@dataclass
class ChoiceResult:
    """One model's answers: per question the predicted letter and the letters' probabilities."""

    predictions: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    subjects: dict[str, float] = field(default_factory=dict)


def style_of(name: str) -> PromptStyle:
    if name not in BENCHMARKS:
        raise StockadeError(
            f"unknown benchmark {name!r}", fix=f"choose one of: {', '.join(sorted(BENCHMARKS))}"
        )
    return BENCHMARKS[name]


def _rows_csv(path: Path) -> list[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    if {"question", "a", "b", "c", "d", "answer"} <= set(header):
        return [(n, dict(zip(header, row, strict=False))) for n, row in enumerate(rows[1:], start=2)]
    keys = ["question", "a", "b", "c", "d", "answer"]
    if all(len(row) == len(keys) for row in rows):  # MMLU: no header, six columns
        return [(n, dict(zip(keys, row, strict=True))) for n, row in enumerate(rows, start=1)]
    raise StockadeError(
        "neither a header with question, A, B, C, D, answer nor six headerless columns",
        where=str(path),
        fix="use C-Eval/CMMLU headers (question,A,B,C,D,answer) or MMLU's six columns",
    )


def _rows_json(path: Path) -> list[tuple[int, dict[str, str]]]:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".jsonl":
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            items = json.loads(text)
    except json.JSONDecodeError as error:
        raise StockadeError(f"invalid JSON: {error}", where=str(path)) from None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise StockadeError("expected a list of objects", where=str(path), fix="one object per question")
    return [
        (n, {str(k).strip().lower(): v for k, v in item.items()}) for n, item in enumerate(items, start=1)
    ]


def read_questions(path: Path, subject: str) -> list[Question]:
    rows = _rows_csv(path) if path.suffix == ".csv" else _rows_json(path)
    unit = "line" if path.suffix in (".csv", ".jsonl") else "item"
    questions = []
    for number, row in rows:
        where = f"{path}: {unit} {number}"
        missing = [key for key in ("question", "a", "b", "c", "d", "answer") if row.get(key) is None]
        if missing:
            raise StockadeError(f"missing {', '.join(missing)}", where=where)
        answer = str(row["answer"]).strip().upper()
        if answer not in CHOICES:
            raise StockadeError(
                f"answer {row['answer']!r} is not one of A, B, C, D",
                where=where,
                fix="C-Eval's test split has no public answers: score the val split (--split val)",
            )
        options = tuple(str(row[key.lower()]) for key in CHOICES)
        questions.append(Question(subject, len(questions), str(row["question"]), options, answer))  # type: ignore[arg-type]
    return questions


def _files(folder: Path, split: str) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.is_file() and path.suffix in SUFFIXES:
            found[path.stem.removesuffix(f"_{split}")] = path
    return found


def _titles(folder: Path) -> dict[str, str]:
    path = folder / "mapping.json"
    if not path.is_file():
        return {}
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise StockadeError(f"invalid JSON: {error}", where=str(path)) from None
    return {
        key: str(value.get("name", key)) if isinstance(value, dict) else str(value)
        for key, value in mapping.items()
    }


def read_benchmark(name: str, folder: Path, *, split: str | None, shots: int, limit: int | None) -> Benchmark:
    """The subjects of ``folder``: questions of ``split`` (default val/, else test/), dev examples."""
    style_of(name)
    if not folder.is_dir():
        raise StockadeError(f"{folder} is not a folder", fix="--data names the benchmark's folder")
    if split is None:
        split = next((s for s in ("val", "test") if (folder / s).is_dir()), "val")
    scored = _files(folder / split, split)
    if not scored:
        raise StockadeError(
            f"no question files (.csv, .json, .jsonl) in {folder / split}",
            fix="put <subject>_val.csv files under DIR/val/ (or DIR/test/, or name the folder with --split)",
        )
    dev = _files(folder / "dev", "dev")
    titles = _titles(folder)
    digest = hashlib.sha256()
    subjects = []
    for subject, path in scored.items():
        questions = read_questions(path, subject)[:limit]
        examples: list[Question] = []
        if shots:
            if subject not in dev:
                raise StockadeError(
                    f"no dev file for subject {subject!r} "
                    f"({shots}-shot needs {folder / 'dev'}/{subject}_dev.csv)",
                    fix="add the dev split, or score zero-shot with --shots 0",
                )
            examples = read_questions(dev[subject], subject)[:shots]
            digest.update(dev[subject].read_bytes())
        digest.update(path.read_bytes())
        subjects.append(Subject(subject, titles.get(subject, subject.replace("_", " ")), examples, questions))
    return Benchmark(name, folder, split, shots, subjects, digest.hexdigest())


def _user_text(style: PromptStyle, question: Question) -> str:
    options = "".join(
        style.choice.format(choice=c, content=o) for c, o in zip(CHOICES, question.options, strict=True)
    )
    return question.question + options + style.answer


def conversation(style: PromptStyle, subject: Subject, question: Question) -> Conversation:
    """LLaMA-Factory's format_example: shots as user/assistant turns; the task line opens turn one."""
    turns: list[Turn] = []
    for example in [*subject.dev, question]:
        turns.append(Turn(role="user", content=_user_text(style, example)))
        turns.append(Turn(role="assistant", content=example.answer))
    first = turns[0]
    turns[0] = Turn(role="user", content=style.system.format(subject=subject.title) + first.content)
    return Conversation(messages=turns)


def prompt_text(template: Any, tokenizer: Any, conv: Conversation) -> str:
    """The rendered chat up to (not including) the last answer, as `stockade eval` prompts."""
    segments = template.render(conv, tokenizer)
    last = max(i for i, segment in enumerate(segments) if segment.trainable)
    return "".join(segment.text for segment in segments[:last])


def choice_token_ids(tokenizer: Any) -> list[int]:
    """The token of each letter, as LLaMA-Factory takes it: the last id of encoding the bare letter."""
    return [tokenizer.encode(letter, add_special_tokens=False)[-1] for letter in CHOICES]


def run_choices(
    model: Any,
    tokenizer: Any,
    template_name: str | None,
    benchmark: Benchmark,
    *,
    progress: Callable[[], None] | None = None,
) -> ChoiceResult:
    import torch

    from stockade.data.templates import resolve_template

    template = resolve_template(template_name, tokenizer)
    style = style_of(benchmark.name)
    letters = torch.tensor(choice_token_ids(tokenizer), device=model.device)
    result = ChoiceResult()
    correct_total = 0
    for subject in benchmark.subjects:
        correct = 0
        for question in subject.questions:
            prompt = prompt_text(template, tokenizer, conversation(style, subject, question))
            ids = torch.tensor(
                [tokenizer(prompt, add_special_tokens=False)["input_ids"]], device=model.device
            )
            with torch.inference_mode():
                logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0, -1]
            probs = torch.softmax(logits[letters].float(), dim=-1)
            predicted = CHOICES[int(torch.argmax(probs))]
            correct += predicted == question.answer
            result.predictions.append(
                {
                    "subject": subject.name,
                    "index": question.index,
                    "answer": question.answer,
                    "predicted": predicted,
                    "probabilities": [float(p) for p in probs],
                }
            )
            if progress:
                progress()
        result.subjects[subject.name] = (
            correct / len(subject.questions) if subject.questions else float("nan")
        )
        correct_total += correct
    scored = [value for value in result.subjects.values() if value == value]
    result.metrics = {
        "accuracy": correct_total / benchmark.questions if benchmark.questions else float("nan"),
        "subject_average": sum(scored) / len(scored) if scored else float("nan"),
    }
    return result
