"""A labeled corpus for measuring the desensitization (脱敏) gate, and the scoring against it.

Synthetic Chinese banking and customer-service texts (客服对话, 风险评估报告, 贷款申请, 转账记录, 开户资料,
投诉工单, some English) with planted personal data of every ``PiiType`` — valid check digits, real
calendar dates, real region codes — and decoys that must stay intact (order numbers failing Luhn,
18-digit numbers with a wrong ID check digit, amounts, dates, rates, stock codes, branch numbers...).

    from stockade.privacy.corpus import generate_corpus, evaluate
    report = evaluate(generate_corpus(2000, seed=0), detect_all)
"""

from stockade.privacy.corpus.evaluate import (
    DECOYS_KEPT_TARGET,
    NAMES_ADDRESSES_RECALL_TARGET,
    STRUCTURED_RECALL_TARGET,
    Check,
    DesensitizedReport,
    Report,
    covers,
    evaluate,
    evaluate_desensitized,
)
from stockade.privacy.corpus.generator import (
    Decoy,
    GoldSpan,
    LabeledDoc,
    alpaca_labels_path,
    generate_corpus,
    iter_alpaca_labels,
    read_corpus_jsonl,
    write_alpaca_corpus,
    write_corpus_jsonl,
)

__all__ = [
    "DECOYS_KEPT_TARGET",
    "NAMES_ADDRESSES_RECALL_TARGET",
    "STRUCTURED_RECALL_TARGET",
    "Check",
    "Decoy",
    "DesensitizedReport",
    "GoldSpan",
    "LabeledDoc",
    "Report",
    "alpaca_labels_path",
    "covers",
    "evaluate",
    "evaluate_desensitized",
    "generate_corpus",
    "iter_alpaca_labels",
    "read_corpus_jsonl",
    "write_alpaca_corpus",
    "write_corpus_jsonl",
]
