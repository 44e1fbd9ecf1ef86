"""The preference losses on fixed numbers, against values computed by hand from the formulas of
LLaMA-Factory's trainers (TRL's DPO/KTO definitions; TRL itself does not import without `datasets`)."""

from __future__ import annotations

import math
import re

import pytest

torch = pytest.importorskip("torch")

from stockade.data.tokenization import IGNORE_INDEX  # noqa: E402
from stockade.training.preference import dpo_terms, kto_terms, sequence_logps  # noqa: E402


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _logsigmoid(x: float) -> float:
    return math.log(_sigmoid(x))


CHOSEN, REJECTED = [-3.0, -10.0], [-5.0, -4.0]  # policy log-probabilities of two pairs
REF_CHOSEN, REF_REJECTED = [-4.0, -9.0], [-4.5, -4.5]
BETA = 0.1


def _t(values: list[float]):
    return torch.tensor(values, dtype=torch.float64)


def test_sigmoid_is_dpo() -> None:
    terms = dpo_terms("sigmoid", BETA, _t(CHOSEN), _t(REJECTED), _t(REF_CHOSEN), _t(REF_REJECTED))
    for i in range(2):
        logits = (CHOSEN[i] - REF_CHOSEN[i]) - (REJECTED[i] - REF_REJECTED[i])
        assert float(terms.losses[i]) == pytest.approx(-_logsigmoid(BETA * logits), rel=1e-12)
        assert float(terms.chosen_rewards[i]) == pytest.approx(BETA * (CHOSEN[i] - REF_CHOSEN[i]))
        assert float(terms.rejected_rewards[i]) == pytest.approx(BETA * (REJECTED[i] - REF_REJECTED[i]))
    # pair 0: chosen gained 1, rejected lost 0.5 -> loss below log 2; pair 1 the other way round
    assert float(terms.losses[0]) < math.log(2) < float(terms.losses[1])


def test_ipo() -> None:
    terms = dpo_terms("ipo", BETA, _t(CHOSEN), _t(REJECTED), _t(REF_CHOSEN), _t(REF_REJECTED))
    for i in range(2):
        logits = (CHOSEN[i] - REF_CHOSEN[i]) - (REJECTED[i] - REF_REJECTED[i])
        assert float(terms.losses[i]) == pytest.approx((logits - 1 / (2 * BETA)) ** 2, rel=1e-12)


def test_orpo_needs_no_reference() -> None:
    chosen, rejected = [-0.5, -2.0], [-1.5, -0.25]  # mean log-probabilities (< 0)
    terms = dpo_terms("orpo", BETA, _t(chosen), _t(rejected))
    for i in range(2):
        c, r = chosen[i], rejected[i]
        log_odds = (c - r) - (math.log(1 - math.exp(c)) - math.log(1 - math.exp(r)))
        expected = -c + BETA * -_logsigmoid(log_odds)
        assert float(terms.losses[i]) == pytest.approx(expected, rel=1e-12)
        assert float(terms.chosen_rewards[i]) == pytest.approx(BETA * c)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.4])
def test_simpo_uses_gamma(gamma: float) -> None:
    chosen, rejected = [-0.5, -2.0], [-1.5, -0.25]
    terms = dpo_terms("simpo", 2.0, _t(chosen), _t(rejected), simpo_gamma=gamma)
    for i in range(2):
        logits = (chosen[i] - rejected[i]) - gamma / 2.0
        assert float(terms.losses[i]) == pytest.approx(-_logsigmoid(2.0 * logits), rel=1e-12)


def test_reference_losses_refuse_to_run_without_a_reference() -> None:
    with pytest.raises(ValueError, match="reference"):
        dpo_terms("sigmoid", BETA, _t(CHOSEN), _t(REJECTED))


def test_kto_with_kl_and_weights() -> None:
    policy, reference = [-3.0, -6.0, -2.0], [-4.0, -5.0, -2.5]
    tags = [True, False, False]
    policy_kl, reference_kl = [-7.0, -8.0, -6.0], [-7.5, -8.2, -6.1]
    kl = max(0.0, sum(p - r for p, r in zip(policy_kl, reference_kl, strict=True)) / 3)
    terms = kto_terms(
        BETA, _t(policy), _t(reference), torch.tensor(tags), _t(policy_kl), _t(reference_kl), 1.5, 0.5
    )
    assert float(terms.kl) == pytest.approx(kl)
    for i in range(3):
        ratio = policy[i] - reference[i]
        if tags[i]:
            expected = 1.5 * (1 - _sigmoid(BETA * (ratio - kl)))
        else:
            expected = 0.5 * (1 - _sigmoid(BETA * (kl - ratio)))
        assert float(terms.losses[i]) == pytest.approx(expected, rel=1e-12)
    assert terms.chosen_rewards.tolist() == pytest.approx([BETA * 1.0])
    assert terms.rejected_rewards.tolist() == pytest.approx([BETA * -1.0, BETA * 0.5])
    # a negative KL estimate is clamped at 0
    clamped = kto_terms(BETA, _t(policy), _t(reference), torch.tensor(tags), _t([-9.0] * 3), _t([-1.0] * 3))
    assert float(clamped.kl) == 0.0


def test_sequence_logps_sums_only_the_labelled_tokens_and_equals_the_full_logits() -> None:
    torch.manual_seed(0)
    hidden = torch.randn(2, 5, 4, dtype=torch.float64)
    weight = torch.randn(7, 4, dtype=torch.float64)
    labels = torch.tensor([[IGNORE_INDEX, IGNORE_INDEX, 3, 1, IGNORE_INDEX], [IGNORE_INDEX, 6, 0, 2, 5]])
    sums, counts = sequence_logps(hidden, labels, weight)
    logits = hidden @ weight.T
    expected = []
    for row in range(2):
        total = 0.0
        for t in range(1, 5):
            if labels[row, t] != IGNORE_INDEX:  # token t is predicted at position t - 1
                total += float(torch.log_softmax(logits[row, t - 1], -1)[labels[row, t]])
        expected.append(total)
    assert sums.tolist() == pytest.approx(expected, rel=1e-9)
    assert counts.tolist() == [2, 4]
    from_logits, _ = sequence_logps(logits, labels)  # the model's own logits: the same numbers
    assert from_logits.tolist() == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("keys", "refused"),
    [
        ({"pref_beta": 0.2}, "pref_beta has no effect with stage: sft"),
        ({"stage": "pt", "pref_ftx": 1.0}, "pref_ftx has no effect with stage: pt"),
        ({"stage": "dpo", "simpo_gamma": 0.3}, "simpo_gamma (only pref_loss: simpo uses it)"),
        ({"stage": "kto", "pref_loss": "ipo"}, "pref_loss has no effect with stage: kto"),
        ({"stage": "dpo", "kto_rejected_weight": 2.0}, "kto_rejected_weight has no effect with stage: dpo"),
        ({"stage": "dpo", "pref_loss": "hinge"}, "pref_loss"),
    ],
)
def test_a_preference_key_that_would_do_nothing_is_refused(keys: dict, refused: str) -> None:
    from stockade.core.specs.train import TrainSpec

    with pytest.raises(ValueError, match=re.escape(refused)):
        TrainSpec.model_validate(keys)


def test_a_saved_spec_loads_again_whatever_its_stage() -> None:
    """spec.yaml (what --resume and --save-config read back) lists every key at its value."""
    from stockade.core.specs.train import TrainSpec

    for keys in (
        {},
        {"stage": "pt"},
        {"stage": "dpo", "pref_loss": "simpo", "simpo_gamma": 1.0},
        {"stage": "kto"},
    ):
        spec = TrainSpec.model_validate(keys)
        assert TrainSpec.model_validate(spec.model_dump(mode="json")) == spec
