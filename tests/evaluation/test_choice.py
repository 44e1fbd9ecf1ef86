"""Multiple-choice benchmarks from local files: the readers, LLaMA-Factory's prompt format, and the
scores against a plain transformers forward pass written here (within 1e-6), through the workspace
and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stockade.core.errors import StockadeError
from stockade.evaluation.choice import conversation, read_benchmark, read_questions, style_of
from tests.conftest import run_cli

SAMPLE = Path(__file__).parent / "ceval_sample"
BUILT: dict[str, Path] = {}
QWEN_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


def test_the_sample_reads_per_subject_with_dev_examples_and_titles() -> None:
    bench = read_benchmark("ceval", SAMPLE, split=None, shots=2, limit=None)
    assert bench.split == "val" and bench.questions == 10
    assert [(s.name, s.title, len(s.dev), len(s.questions)) for s in bench.subjects] == [
        ("banking_basics", "银行基础", 2, 5),
        ("risk_control", "风险控制", 2, 5),
    ]
    first = bench.subjects[0].questions[0]
    assert first.answer == "B" and first.options[1] == "活期利率"
    limited = read_benchmark("ceval", SAMPLE, split="val", shots=1, limit=2)
    assert limited.questions == 4 and all(len(s.dev) == 1 for s in limited.subjects)


def test_mmlu_headerless_csv_json_and_jsonl_read_alike(tmp_path: Path) -> None:
    expected = read_questions(SAMPLE / "val" / "risk_control_val.csv", "risk_control")
    rows = [[q.question, *q.options, q.answer] for q in expected]
    headerless = tmp_path / "risk_control_test.csv"
    headerless.write_text("\n".join(",".join(row) for row in rows) + "\n", encoding="utf-8")
    keys = ["Question", "A", "B", "C", "D", "Answer"]
    as_json = tmp_path / "x.json"
    as_json.write_text(
        json.dumps([dict(zip(keys, row, strict=True)) for row in rows], ensure_ascii=False), encoding="utf-8"
    )
    as_jsonl = tmp_path / "x.jsonl"
    as_jsonl.write_text(
        "\n".join(json.dumps(dict(zip(keys, row, strict=True)), ensure_ascii=False) for row in rows)
    )
    for path in (headerless, as_json, as_jsonl):
        assert read_questions(path, "risk_control") == expected


def test_bad_files_are_refused_with_the_place(tmp_path: Path) -> None:
    (tmp_path / "val").mkdir()
    bad = tmp_path / "val" / "law_val.csv"
    bad.write_text("id,question,A,B,C,D,answer\n0,q,a,b,c,d,\n", encoding="utf-8")
    with pytest.raises(StockadeError) as error:
        read_benchmark("ceval", tmp_path, split=None, shots=0, limit=None)
    assert f"{bad}: line 2: answer '' is not one of A, B, C, D" in str(error.value)
    bad.write_text("id,question,A,B,C,D,answer\n0,q,a,b,c,d,C\n", encoding="utf-8")
    with pytest.raises(StockadeError, match=r"(?s)no dev file for subject 'law'.*--shots 0"):
        read_benchmark("ceval", tmp_path, split=None, shots=5, limit=None)
    assert read_benchmark("ceval", tmp_path, split=None, shots=0, limit=None).questions == 1
    with pytest.raises(StockadeError, match="no question files"):
        read_benchmark("ceval", tmp_path, split="test", shots=0, limit=None)
    with pytest.raises(StockadeError, match="unknown benchmark 'agieval'"):
        style_of("agieval")


def test_the_prompt_is_llamafactorys_format() -> None:
    bench = read_benchmark("ceval", SAMPLE, split=None, shots=1, limit=None)
    subject = bench.subjects[1]
    conv = conversation(style_of("ceval"), subject, subject.questions[3])
    assert [(t.role, t.content) for t in conv.messages] == [
        (
            "user",
            "以下是中国关于风险控制考试的单项选择题，请选出其中的正确答案。\n\n"
            "贷款发放后银行定期了解借款人经营情况属于"
            "\nA. 贷前调查\nB. 贷中审查\nC. 贷后管理\nD. 催收处置\n答案：",
        ),
        ("assistant", "C"),
        (
            "user",
            "交易对手出现在内部受限名单上时应当"
            "\nA. 继续交易\nB. 暂停交易并上报\nC. 改用现金交易\nD. 拆分为多笔\n答案：",
        ),
        ("assistant", "B"),
    ]
    mmlu = conversation(style_of("mmlu"), subject, subject.questions[3]).messages[0].content
    assert mmlu.startswith("The following are multiple choice questions (with answers) about 风险控制.\n\n")
    assert mmlu.endswith("\nAnswer:")


def _qwen_prompt(subject_title: str, shots: list, question) -> str:
    """The qwen chat template written out by hand (docs/templates-and-masking.md), not rendered."""

    def user(q) -> str:
        a, b, c, d = q.options
        return f"{q.question}\nA. {a}\nB. {b}\nC. {c}\nD. {d}\n答案："

    turns = [user(q) for q in [*shots, question]]
    turns[0] = f"以下是中国关于{subject_title}考试的单项选择题，请选出其中的正确答案。\n\n" + turns[0]
    text = f"<|im_start|>system\n{QWEN_SYSTEM}<|im_end|>\n"
    for shot, turn in zip(shots, turns, strict=False):
        text += f"<|im_start|>user\n{turn}<|im_end|>\n<|im_start|>assistant\n{shot.answer}<|im_end|>\n"
    return text + f"<|im_start|>user\n{turns[-1]}<|im_end|>\n<|im_start|>assistant\n"


def _reference(model_dir: Path, bench) -> list[list[float]]:
    """Plain transformers: the last position's logits, softmax over the four letters' tokens."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    letters = [tokenizer.encode(letter, add_special_tokens=False)[-1] for letter in "ABCD"]
    assert len(set(letters)) == 4  # four distinct tokens, or the comparison would mean little
    probabilities = []
    for subject in bench.subjects:
        for question in subject.questions:
            prompt = _qwen_prompt(subject.title, subject.dev, question)
            ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
            with torch.no_grad():
                logits = model(ids).logits[0, -1]
            probabilities.append(torch.softmax(logits[letters], dim=-1).tolist())
    return probabilities


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("torch")
    from stockade.models.store.service import import_model
    from stockade.workspace.service import initialize_workspace, open_workspace
    from tests.models.store_setup import copy_model, tiny_model

    root = tmp_path_factory.mktemp("choice")
    initialize_workspace(root / "ws")
    source = copy_model(tiny_model(BUILT, root, "qwen2"), root / "qwen2")
    with open_workspace(root / "ws") as context:
        view = import_model(context, source, "tiny").view
        yield {"root": root, "context": context, "ref": view.ref, "source": source}


@pytest.mark.slow
@pytest.mark.parametrize("shots", [0, 2])
def test_scores_match_a_plain_forward_pass(registered: dict, shots: int) -> None:
    from sqlalchemy.orm import Session

    from stockade.evaluation.benchmark import evaluate_benchmark
    from stockade.storage.model_tables import EvalReport
    from tests.models.store_setup import audit_actions

    context = registered["context"]
    outcome = evaluate_benchmark(context, registered["ref"], "ceval", SAMPLE, shots=shots, template="qwen")
    report = json.loads(outcome.json_path.read_text(encoding="utf-8"))
    bench = read_benchmark("ceval", SAMPLE, split=None, shots=shots, limit=None)
    expected = _reference(registered["source"], bench)
    got = [row["candidate"]["probabilities"] for row in report["questions"]]
    assert len(got) == 10
    assert (
        max(abs(a - b) for g, e in zip(got, expected, strict=True) for a, b in zip(g, e, strict=True)) < 1e-6
    )
    predicted = ["ABCD"[max(range(4), key=p.__getitem__)] for p in expected]
    answers = [q.answer for s in bench.subjects for q in s.questions]
    right = [p == a for p, a in zip(predicted, answers, strict=True)]
    assert report["candidate"]["subjects"] == pytest.approx(
        {"banking_basics": sum(right[:5]) / 5, "risk_control": sum(right[5:]) / 5}
    )
    assert report["candidate"]["metrics"]["accuracy"] == pytest.approx(sum(right) / 10)
    assert report["benchmark"]["shots"] == shots and report["benchmark"]["split"] == "val"
    with Session(context.engine) as session:
        row = session.get(EvalReport, outcome.id)
        assert row is not None and row.dataset.startswith("ceval@sha256:")
    assert any(a == "eval.benchmark" and t == registered["ref"] for a, t, _ in audit_actions(context))
    assert "风险控制 (risk_control)" in outcome.html_path.read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_benchmark_command(registered: dict) -> None:
    workspace = str(registered["root"] / "ws")
    done = run_cli(
        "-w", workspace, "eval", registered["ref"], "--benchmark", "ceval", "--data", str(SAMPLE),
        "--shots", "1", "--limit", "2", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["questions"] == 4 and set(summary["candidate"]) == {"accuracy", "subject_average"}
    for args, message in [
        (["--benchmark", "ceval"], "--benchmark needs --data DIR"),
        (["--benchmark", "ceval", "--data", str(SAMPLE), "--task", "risk-report"], "--task do not apply"),
        (["--dataset", "x@v1", "--benchmark", "ceval", "--data", str(SAMPLE)], "exclude each other"),
        (["--dataset", "x@v1", "--shots", "3"], "--shots only apply with --benchmark"),
        ([], "give --dataset NAME@vN, or --benchmark"),
    ]:
        refused = run_cli("-w", workspace, "eval", registered["ref"], *args)
        assert refused.returncode == 2 and message in refused.stderr, (args, refused.stderr)
