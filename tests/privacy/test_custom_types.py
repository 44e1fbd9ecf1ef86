"""A bank's own types, deny list and allow list, from the policy file to the desensitized output."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from stockade.core.errors import ConfigError
from stockade.core.hashing import canonical_json
from stockade.privacy.check_digits import (
    VALIDATORS,
    iban_valid,
    luhn_valid,
    mod11_2_valid,
    mod37_36_valid,
    mod97_10_valid,
)
from stockade.privacy.engine import PrivacyEngine
from stockade.privacy.files import process_file
from stockade.privacy.operators import apply_operator
from stockade.privacy.policy import PrivacyPolicy, load_policy
from stockade.privacy.report import ScanReport, render_html
from stockade.privacy.spans import CustomType, PiiType, Span, type_label, type_name
from tests.conftest import run_cli

SECRET = b"test-key-0123456789abcdef0123456"


def luhn_complete(payload: str) -> str:
    """``payload`` + the digit that makes it pass Luhn (independent of the code under test)."""
    for digit in "0123456789":
        candidate = payload + digit
        total = sum(
            int(c) if i % 2 == 0 else (2 * int(c) - 9 if int(c) > 4 else 2 * int(c))
            for i, c in enumerate(reversed(candidate))
        )
        if total % 10 == 0:
            return candidate
    raise AssertionError(payload)


GOOD_KH = "KH" + luhn_complete("123456789")  # KH1234567897
BAD_KH = GOOD_KH[:-1] + str((int(GOOD_KH[-1]) + 1) % 10)  # fails Luhn
OTHER_GOOD_KH = "KH" + luhn_complete("987654321")
THIRD_GOOD_KH = "KH" + luhn_complete("555555555")
BRANCH = "北京市西城区金融大街营业部"  # a branch name the address detector reads as an address

POLICY_YAML = """\
name: bank-custom
custom_types:
  customer_no:
    label: 客户号
    pattern: 'KH[0-9]{10}'
    validator: luhn
    context: [客户号, 客户编号]
    score: 0.6
  contract_no:
    label: 合同号
    pattern: 'HT[0-9]{8}'
    context: [合同]
    context_required: true
  extension:
    label: 分机号
    pattern: '9[0-9]{4}'
deny_list:
  person: [某某某]
allow_list:
  - 95588
  - 北京市西城区金融大街营业部
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _policy(tmp_path: Path, yaml_text: str) -> PrivacyPolicy:
    return load_policy(_write(tmp_path / "policy.yaml", yaml_text))


# --- validators ------------------------------------------------------------------------------

VALIDATOR_CASES = [
    (luhn_valid, "79927398713", True),  # the classic Luhn example
    (luhn_valid, "79927398710", False),
    (luhn_valid, "6222 0212 3456 7890 128", luhn_complete("622202123456789012") == "6222021234567890128"),
    (luhn_valid, GOOD_KH, True),  # letters are skipped
    (luhn_valid, BAD_KH, False),
    (luhn_valid, "7", False),  # too short
    (mod11_2_valid, "11010519491231002X", True),  # GB 11643 ID, check character X
    (mod11_2_valid, "11010519491231002x", True),
    (mod11_2_valid, "110105194912310021", False),
    (mod11_2_valid, "1101051949123100X2", False),  # X only as the check character
    (mod97_10_valid, "79444", True),  # the ISO 7064 MOD 97-10 example: 794 + check digits 44
    (mod97_10_valid, "79445", False),
    (mod97_10_valid, "WEST12345698765432GB82", True),  # an IBAN with its first four moved last
    (mod97_10_valid, "WEST12345698765432GB83", False),
    (iban_valid, "GB82WEST12345698765432", True),
    (iban_valid, "GB82 WEST 1234 5698 7654 32", True),
    (iban_valid, "DE89370400440532013000", True),
    (iban_valid, "GB83WEST12345698765432", False),
    (iban_valid, "82GBWEST12345698765432", False),
    (mod37_36_valid, "A12425GABC1234002M", True),  # ISO 7064 MOD 37,36 hybrid
    (mod37_36_valid, "A12425GABC1234002N", False),
    (VALIDATORS["none"], "anything", True),
]


@pytest.mark.parametrize(("validator", "text", "valid"), VALIDATOR_CASES)
def test_validators_on_known_values(validator, text: str, valid: bool) -> None:
    assert validator(text) is valid


def test_every_validator_a_policy_can_name_is_tested() -> None:
    assert set(VALIDATORS) == {"luhn", "mod11", "iso7064_mod97", "iban", "iso7064_mod37_36", "none"}


# --- the CLI, as a user runs it ----------------------------------------------------------------


def test_desensitize_with_custom_types_deny_and_allow_lists(workspace_dir: Path, tmp_path: Path) -> None:
    records = [
        {
            "instruction": f"客户号{GOOD_KH}的账户",
            "input": f"另一个编号{BAD_KH}",
            "output": f"{THIRD_GOOD_KH}1",
        },
        {
            "instruction": "合同编号HT20240001",
            "input": "联系某某某，编号HT20240002",
            "output": "请致电95588或分机96123",
        },
        {"instruction": f"经办网点{BRANCH}", "input": "", "output": f"编号{OTHER_GOOD_KH}"},
    ]
    source = _write(tmp_path / "d.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    policy = _write(tmp_path / "policy.yaml", POLICY_YAML)
    output = tmp_path / "out.jsonl"
    result = run_cli(
        "-w",
        str(workspace_dir),
        "data",
        "desensitize",
        str(source),
        "--output",
        str(output),
        "--policy",
        str(policy),
        "--report",
        str(tmp_path / "r.json"),
    )
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    # label and validator: a Luhn-valid number becomes <客户号>, one that fails Luhn stays
    assert out[0]["instruction"] == "客户号<客户号>的账户"
    assert out[0]["input"] == f"另一个编号{BAD_KH}"
    assert out[0]["output"] == f"{THIRD_GOOD_KH}1"  # glued to a digit: an 11-digit token, not this type
    # context_required: only the contract number after 合同 is replaced
    assert out[1]["instruction"] == "合同编号<合同号>"
    assert out[1]["input"] == "联系<姓名>，编号HT20240002"  # deny list; no 合同 before this one
    assert out[1]["output"] == "请致电95588或分机<分机号>"  # allow list keeps the hotline
    assert out[2]["instruction"] == f"经办网点{BRANCH}"  # allow list keeps the branch
    assert out[2]["output"] == "编号<客户号>"  # no context needed at score 0.6 >= min_score 0.5
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report["by_type"] == {"contract_no": 1, "customer_no": 2, "extension": 1, "person": 1}
    assert report["labels"] == {"contract_no": "合同号", "customer_no": "客户号", "extension": "分机号"}
    assert report["operators"]["customer_no"] == "replace"
    assert report["detectors"]["custom:customer_no"].startswith("1+")
    assert report["detectors"]["deny_list"].startswith("1+")
    assert GOOD_KH not in result.stdout + json.dumps(report, ensure_ascii=False)


def test_a_bad_custom_type_is_a_config_error_on_the_command_line(tmp_path: Path) -> None:
    source = _write(tmp_path / "d.jsonl", '{"instruction": "x", "input": "", "output": "y"}\n')
    policy = _write(
        tmp_path / "policy.yaml", "custom_types:\n  customer_no: {pattern: 'KH[0-9', validatr: luhn}\n"
    )
    result = run_cli("data", "scan", str(source), "--policy", str(policy))
    assert result.returncode == 2
    assert "custom_types.customer_no" in result.stderr
    assert "'validatr' (did you mean 'validator'?)" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_allow_list_drops_only_what_it_covers(tmp_path: Path) -> None:
    """Without the allow list the branch is an address; with it, only spans inside it go."""
    plain = PrivacyEngine(PrivacyPolicy(), SECRET)
    text = f"经办网点{BRANCH}，客户住址北京市西城区金融大街8号"
    assert [span.type for span in plain.scan(text)] == [PiiType.ADDRESS, PiiType.ADDRESS]
    allowing = PrivacyEngine(PrivacyPolicy(allow_list=[BRANCH]), SECRET)
    (kept,) = allowing.scan(text)
    assert text[kept.start : kept.end].startswith("北京市西城区金融大街8")


def test_a_deny_list_entry_wins_over_what_it_overlaps_and_is_found_everywhere() -> None:
    engine = PrivacyEngine(PrivacyPolicy(deny_list={"person": ["某某某", "某某"]}, min_score=0.5), SECRET)
    spans = engine.scan("某某某和某某某，还有某某")
    assert [(s.start, s.end, s.type, s.score, s.detector) for s in spans] == [
        (0, 3, PiiType.PERSON, 1.0, "deny_list"),
        (4, 7, PiiType.PERSON, 1.0, "deny_list"),
        (10, 12, PiiType.PERSON, 1.0, "deny_list"),  # the longest entry wins, shorter ones still count
    ]
    # inside a detected address it is left to the address, which covers it
    inside = PrivacyEngine(PrivacyPolicy(deny_list={"person": ["金融大街"]}), SECRET)
    (span,) = inside.scan("客户住址北京市西城区金融大街8号")
    assert span.type is PiiType.ADDRESS


# --- score, context, rules -------------------------------------------------------------------


def _one_type(**fields: object) -> PrivacyPolicy:
    spec = {"label": "客户号", "pattern": "KH[0-9]{10}", **fields}
    return PrivacyPolicy(custom_types={"customer_no": spec})


@pytest.mark.parametrize(
    ("fields", "text", "score"),
    [
        ({}, f"号码{GOOD_KH}", 0.6),  # the default base score
        ({"score": 0.8}, f"号码{GOOD_KH}", 0.8),
        ({"score": 0.4, "context": ["客户号"]}, f"号码{GOOD_KH}", None),  # below min_score 0.5
        ({"score": 0.4, "context": ["客户号"]}, f"客户号：{GOOD_KH}", 0.7),  # +0.3 with context
        ({"score": 0.9, "context": ["客户号"]}, f"客户号：{GOOD_KH}", 1.0),  # capped at 1.0
        ({"context": ["客户号"]}, f"客户号为以下这个很长很长的说明文字之后的{GOOD_KH}", 0.6),  # outside 16
        ({"context": ["客户号"], "context_required": True}, f"号码{GOOD_KH}", None),
        ({"context": ["客户号"], "context_required": True}, f"客户号{GOOD_KH}", 0.9),
        ({"validator": "luhn"}, f"号码{BAD_KH}", None),
        ({}, f"号码ＫＨ{GOOD_KH[2:]}", 0.6),  # full-width letters and digits
        ({}, f"号码X{GOOD_KH}", None),  # glued to a letter
    ],
)
def test_score_context_and_validator(fields: dict, text: str, score: float | None) -> None:
    spans = [s for s in PrivacyEngine(_one_type(**fields), SECRET).scan(text) if s.type == "customer_no"]
    if score is None:
        assert spans == []
    else:
        (span,) = spans
        assert (text[span.start : span.end][-10:], span.score) == (GOOD_KH[-10:], score)
        assert span.type == "customer_no" and span.type.label == "客户号"


def test_the_check_group_is_what_the_validator_reads() -> None:
    # the whole match (with the 9 in front) fails Luhn; the group alone passes
    policy = _one_type(pattern=r"9(?P<check>KH[0-9]{10})", validator="luhn")
    (span,) = PrivacyEngine(policy, SECRET).scan(f"号码9{GOOD_KH}")
    assert (span.start, span.end) == (2, 15)
    assert not luhn_valid("9" + GOOD_KH) and luhn_valid(GOOD_KH)


def test_rules_apply_to_custom_types_and_the_default_is_replace_with_the_label() -> None:
    text = f"客户号{GOOD_KH}"
    assert PrivacyEngine(_one_type(), SECRET).desensitize(text)[0] == "客户号<客户号>"
    assert PrivacyEngine(_one_type(label=None), SECRET).desensitize(text)[0] == "客户号<customer_no>"
    masked = PrivacyPolicy(
        custom_types={"customer_no": {"pattern": "KH[0-9]{10}"}},
        rules={"customer_no": {"operator": "mask", "params": {"keep_first": 2, "keep_last": 2}}},
    )
    assert PrivacyEngine(masked, SECRET).desensitize(text)[0] == f"客户号KH********{GOOD_KH[-2:]}"
    hashed = PrivacyPolicy(
        custom_types={"customer_no": {"label": "客户号", "pattern": "KH[0-9]{10}"}},
        rules={"customer_no": {"operator": "hash", "params": {"length": 8}}},
    )
    engine = PrivacyEngine(hashed, SECRET)
    token = engine.desensitize(text)[0]
    assert token.startswith("客户号<客户号:") and len(token) == len("客户号<客户号:12345678>")
    assert engine.desensitize(f"另{GOOD_KH}")[0] == "另" + token[3:]  # consistent
    assert engine.operators()["customer_no"] == "hash"


def test_custom_types_always_run_next_to_a_chosen_list_of_detectors() -> None:
    policy = PrivacyPolicy(
        detectors=["mobile"], custom_types={"customer_no": {"pattern": "KH[0-9]{10}", "label": "客户号"}}
    )
    engine = PrivacyEngine(policy, SECRET)
    assert set(engine.detector_versions()) == {"mobile", "custom:customer_no"}
    text = f"{GOOD_KH}，13812345678"
    assert [type_name(s.type) for s in engine.scan(text)] == ["customer_no", "mobile"]


def test_detector_versions_change_with_the_definition() -> None:
    first = PrivacyEngine(_one_type(), SECRET).detector_versions()["custom:customer_no"]
    second = PrivacyEngine(_one_type(score=0.7), SECRET).detector_versions()["custom:customer_no"]
    assert first != second


def test_the_fingerprint_covers_custom_types_and_both_lists() -> None:
    base = PrivacyPolicy()
    variants = [
        _one_type(),
        _one_type(validator="luhn"),
        _one_type(context=["客户号"]),
        _one_type(score=0.7),
        _one_type(context=["客户号"], context_required=True),
        _one_type(label="客户编号"),
        PrivacyPolicy(deny_list={"person": ["某某某"]}),
        PrivacyPolicy(allow_list=["95588"]),
    ]
    prints = {policy.fingerprint() for policy in [base, *variants]}
    assert len(prints) == len(variants) + 1
    # a policy without the new keys keeps the fingerprint it had before they existed
    before = base.model_dump(mode="json")
    for key in ("custom_types", "deny_list", "allow_list"):
        del before[key]
    assert base.fingerprint() == hashlib.sha256(canonical_json(before).encode()).hexdigest()


def test_worker_processes_rebuild_the_same_custom_policy(tmp_path: Path) -> None:
    policy = _policy(tmp_path, POLICY_YAML)
    source = _write(
        tmp_path / "d.jsonl",
        "".join(json.dumps({"text": f"客户号{GOOD_KH} 某某某"}, ensure_ascii=False) + "\n" for _ in range(4)),
    )
    engine = PrivacyEngine(policy, SECRET)
    output = tmp_path / "out.jsonl"
    report = process_file("raw", source, engine, output=output, workers=2)
    assert report.by_type() == {"customer_no": 4, "person": 4}
    assert report.labels == {"customer_no": "客户号"}
    assert set(output.read_text(encoding="utf-8").splitlines()) == {'{"text": "客户号<客户号> <姓名>"}'}


# --- operators, spans and reports with custom types -----------------------------------------


def test_custom_type_is_a_string_with_a_label() -> None:
    kind = CustomType("customer_no", "客户号")
    assert kind == "customer_no" and hash(kind) == hash("customer_no") and kind.value == "customer_no"
    assert f"{kind}" == "customer_no" and type_label(kind) == "客户号" and type_name(kind) == "customer_no"
    assert type_label(PiiType.MOBILE) == "手机号" and type_name(PiiType.MOBILE) == "mobile"
    assert CustomType("x").label == "x"


def test_operators_take_custom_types_and_pseudonym_refuses_them() -> None:
    kind = CustomType("customer_no", "客户号")
    assert apply_operator("replace", GOOD_KH, kind, None, SECRET) == "<客户号>"
    assert apply_operator("replace", GOOD_KH, kind, {"placeholder": "[{type}]"}, SECRET) == "[customer_no]"
    assert apply_operator("redact", GOOD_KH, kind, None, SECRET) == ""
    assert apply_operator("hash", GOOD_KH, kind, None, SECRET).startswith("<客户号:")
    with pytest.raises(ConfigError, match="'customer_no' is a custom type"):
        apply_operator("pseudonym", GOOD_KH, kind, None, SECRET)
    with pytest.raises(ConfigError, match="unknown personal-data type 'customer_no'"):
        apply_operator("replace", GOOD_KH, "customer_no", None, SECRET)  # a bare name has no label


def test_reports_count_custom_types_and_keep_their_labels() -> None:
    kind = CustomType("customer_no", "客户号")
    report = ScanReport()
    report.add(f"客户号{GOOD_KH}", [Span(3, 15, kind, 0.9, "custom:customer_no")], "input")
    assert report.by_type() == {"customer_no": 1}
    assert report.samples["customer_no"] == ["K**********7"]
    again = ScanReport.from_dict(report.to_dict())
    assert again.to_dict() == report.to_dict() and again.labels == {"customer_no": "客户号"}
    assert "customer_no (客户号)" in render_html(again, title="t")
    old = report.to_dict()
    del old["labels"]  # a report stored before custom types existed
    assert "customer_no (customer_no)" in render_html(ScanReport.from_dict(old), title="t")


# --- policy errors ---------------------------------------------------------------------------

POLICY_ERRORS = [
    (
        "custom_types:\n  customer_no: {pattern: 'KH[0-9'}\n",
        ["custom_types.customer_no.pattern", "not a valid regex", "unterminated character set"],
    ),
    ("custom_types:\n  customer_no: {pattern: 'KH[0-9]*|'}\n", ["customer_no.pattern", "empty string"]),
    ("custom_types:\n  customer_no: {pattern: '[0-9]*'}\n", ["customer_no.pattern", "empty string"]),
    (f"custom_types:\n  customer_no: {{pattern: '{'a' * 501}'}}\n", ["customer_no.pattern", "at most 500"]),
    (
        "custom_types:\n  customer_no: {pattern: 'KH[0-9]{10}', validator: lunh}\n",
        ["customer_no.validator", "'lunh' (did you mean 'luhn'?)"],
    ),
    (
        "custom_types:\n  customer_no: {pattern: 'KH[0-9]{10}', patern: x}\n",
        ["custom_types.customer_no", "'patern' (did you mean 'pattern'?)"],
    ),
    ("custom_types:\n  customer_no: {label: 客户号}\n", ["customer_no.pattern", "Field required"]),
    (
        "custom_types:\n  customer_no: {pattern: 'KH[0-9]{10}', context_required: true}\n",
        ["customer_no", "no context words"],
    ),
    (
        "custom_types:\n  customer_no: {pattern: 'KH[0-9]{10}', score: 1.5}\n",
        ["customer_no.score", "less than or equal to 1"],
    ),
    ("custom_types:\n  mobile: {pattern: 'M[0-9]{8}'}\n", ["custom_types", "'mobile' is a built-in type"]),
    ("custom_types:\n  Customer-No: {pattern: 'M[0-9]{8}'}\n", ["custom_types", "not a type name"]),
    (
        "custom_types:\n  customer_no: {pattern: 'KH[0-9]{10}'}\nrules:\n  customer_n: {operator: mask}\n",
        ["rules", "'customer_n' (did you mean 'customer_no'?)"],
    ),
    (
        "custom_types:\n  customer_no: {pattern: 'KH[0-9]{10}'}\n"
        "rules:\n  customer_no: {operator: pseudonym}\n",
        ["rules.customer_no", "'pseudonym'", "custom type"],
    ),
    (
        "custom_types:\n  customer_no: {pattern: 'KH[0-9]{10}'}\nrules:\n  customer_no: {operator: mask, "
        "params: {keep: 2}}\n",
        ["rules.customer_no", "keep"],
    ),
    ("deny_list:\n  persn: [某某某]\n", ["deny_list", "'persn' (did you mean 'person'?)"]),
    ("deny_list:\n  person: ['']\n", ["deny_list", "empty entry"]),
    ("deny_list:\n  person: [某某]\n  address: [某某]\n", ["deny_list", "'某某' is listed under both"]),
    ("deny_list:\n  person: [某某]\nallow_list: [某某]\n", ["in both deny_list and allow_list"]),
    ("allow_list: [95588, 1.5]\n", ["allow_list", "quote 1.5"]),
    ("allow_list: ['  ']\n", ["allow_list", "empty entry"]),
]


@pytest.mark.parametrize(("yaml_text", "expected"), POLICY_ERRORS)
def test_policy_errors_are_config_errors_naming_the_key(
    tmp_path: Path, yaml_text: str, expected: list
) -> None:
    with pytest.raises(ConfigError) as info:
        _policy(tmp_path, yaml_text)
    message = str(info.value)
    assert all(part in message for part in expected), message
    assert info.value.exit_code == 2


def test_the_documented_example_policy_loads(tmp_path: Path) -> None:
    policy = _policy(tmp_path, POLICY_YAML)
    assert list(policy.custom_types) == ["customer_no", "contract_no", "extension"]
    assert policy.allow_list == ["95588", BRANCH] and policy.deny_list == {"person": ["某某某"]}
    assert policy.rules["customer_no"].operator == "replace"


def test_the_example_in_the_docs_does_what_the_docs_say(tmp_path: Path) -> None:
    docs = (Path(__file__).parents[2] / "docs" / "privacy.md").read_text(encoding="utf-8")
    section = docs.split("## Custom types, deny and allow lists", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    engine = PrivacyEngine(_policy(tmp_path, example), SECRET)
    said = {
        "客户号KH1234567897": "客户号KH********97",
        "号码KH1234567898": "号码KH1234567898",
        "合同编号HT20240001": "合同编号<合同号>",
        "编号HT20240002": "编号HT20240002",
        "联系某某某": "联系<姓名>",
        f"经办网点{BRANCH}": f"经办网点{BRANCH}",
        "客服95588": "客服95588",
        "贵宾VIP-0001": "贵宾VI*-**01",  # a deny-list entry of a custom type gets that type's rule
    }
    for text, expected in said.items():
        assert engine.desensitize(text)[0] == expected, text
    employee = "GH" + "1234567" + next(c for c in "0123456789X" if mod11_2_valid("1234567" + c))
    assert engine.desensitize(f"工号{employee}")[0].startswith("工号<工号:")
