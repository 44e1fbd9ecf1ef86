"""Preference optimisation (stage dpo and kto): the losses, and the objective the training loop runs.

The losses follow LLaMA-Factory's trainers (which take them from TRL), on per-sequence log-probabilities
of the scored answer (the last answer; the prompt is context):

* ``sigmoid`` (DPO): ``-log σ(β·((π_c - ref_c) - (π_r - ref_r)))`` with summed log-probabilities;
* ``ipo``: ``((π_c - ref_c) - (π_r - ref_r) - 1/(2β))²`` with per-token mean log-probabilities;
* ``orpo``: ``-π_c + β·(-log σ(log odds(π_c) - log odds(π_r)))``, mean log-probabilities, no reference;
* ``simpo``: ``-log σ(β·(π_c - π_r) - γ)``, mean log-probabilities, no reference (γ = ``simpo_gamma``);
* ``kto``: desirable ``1 - σ(β·(π - ref - z))``, undesirable ``1 - σ(β·(z - (π - ref)))``, weighted by
  ``kto_chosen_weight`` / ``kto_rejected_weight``, where ``z`` is the KL estimate
  ``max(0, mean(π_KL - ref_KL))`` over the micro-batch's mismatched (prompt, other answer) pairs, with no
  gradient.

``pref_ftx`` adds ``pref_ftx x`` the chosen answers' SFT loss (their per-token mean negative
log-likelihood, averaged over the pairs; for kto, summed over the desirable answers and divided by the
micro-batch's examples, so an undesirable answer adds nothing). Rewards are ``β·(π - ref)`` (``β·π``
without a reference, as LLaMA-Factory logs them).

The reference model: with LoRA (and QLoRA) the same model with its adapters disabled (peft's
``disable_adapter()``: no second copy in memory); with full or freeze fine-tuning a frozen copy of the
base, made once before training (twice the weights' memory); orpo and simpo need none.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from stockade.data.tokenization import IGNORE_INDEX, EncodedExample, KtoSample, PairExample

REFERENCE_FREE = frozenset({"orpo", "simpo"})
MEAN_LOGPS = frozenset({"ipo", "orpo", "simpo"})  # losses on per-token mean log-probabilities


@dataclass
class PreferenceTerms:
    """A micro-batch's losses (one per example, with gradient) and the rewards it logs."""

    losses: Any
    chosen_rewards: Any  # detached
    rejected_rewards: Any  # detached
    kl: Any = None  # kto


def dpo_terms(
    kind: str,
    beta: float,
    chosen: Any,
    rejected: Any,
    ref_chosen: Any = None,
    ref_rejected: Any = None,
    simpo_gamma: float = 0.5,
) -> PreferenceTerms:
    """The losses of ``pref_loss`` ``kind`` for log-probabilities of the chosen and rejected answers
    (sums for sigmoid, per-token means for ipo, orpo and simpo; the caller passes the right ones)."""
    import torch
    import torch.nn.functional as F

    if kind in REFERENCE_FREE:
        if kind == "orpo":
            log_odds = (chosen - rejected) - (
                torch.log1p(-torch.exp(chosen)) - torch.log1p(-torch.exp(rejected))
            )
            losses = -chosen + beta * -F.logsigmoid(log_odds)
        elif kind == "simpo":
            losses = -F.logsigmoid(beta * ((chosen - rejected) - simpo_gamma / beta))
        else:
            raise ValueError(f"unknown pref_loss {kind!r}")
        return PreferenceTerms(losses, beta * chosen.detach(), beta * rejected.detach())
    if ref_chosen is None or ref_rejected is None:
        raise ValueError(f"pref_loss {kind!r} needs the reference model's log-probabilities")
    logits = (chosen - ref_chosen) - (rejected - ref_rejected)
    if kind == "sigmoid":
        losses = -F.logsigmoid(beta * logits)
    elif kind == "ipo":
        losses = (logits - 1 / (2 * beta)) ** 2
    else:
        raise ValueError(f"unknown pref_loss {kind!r}")
    return PreferenceTerms(
        losses, beta * (chosen - ref_chosen).detach(), beta * (rejected - ref_rejected).detach()
    )


def kto_terms(
    beta: float,
    policy: Any,
    reference: Any,
    tags: Any,
    policy_kl: Any,
    reference_kl: Any,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
) -> PreferenceTerms:
    """KTO's losses for summed log-probabilities ``policy``/``reference`` of each example's answer,
    ``tags`` (True: desirable), and the mismatched pairs' log-probabilities for the KL estimate."""
    import torch

    kl = (policy_kl - reference_kl).mean().clamp(min=0).detach()
    ratio = policy - reference
    desirable = 1 - torch.sigmoid(beta * (ratio - kl))
    undesirable = 1 - torch.sigmoid(beta * (kl - ratio))
    losses = torch.where(tags, desirable_weight * desirable, undesirable_weight * undesirable)
    rewards = beta * ratio.detach()
    return PreferenceTerms(losses, rewards[tags], rewards[~tags], kl)


def sequence_logps(output: Any, labels: Any, weight: Any = None) -> tuple[Any, Any]:
    """Per sequence: the summed log-probability of its labelled tokens, and how many there are.

    ``output`` is the logits, or (with ``weight``, lm_head's) the last hidden states: then only the
    labelled positions' logits are computed, never the whole ``tokens x vocabulary``."""
    import torch

    out, targets = output[:, :-1], labels[:, 1:]
    keep = targets != IGNORE_INDEX
    rows = torch.arange(targets.shape[0], device=targets.device)[:, None].expand_as(targets)[keep]
    picked = out[keep]
    logits = picked @ weight.to(picked.dtype).T if weight is not None else picked
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # fp32 at least
    token_logps = torch.log_softmax(logits, dim=-1).gather(1, targets[keep][:, None]).squeeze(1)
    sums = torch.zeros(targets.shape[0], dtype=token_logps.dtype, device=token_logps.device)
    sums = sums.index_add(0, rows, token_logps)
    counts = keep.sum(dim=1)
    return sums, counts


def pad_sequences(sequences: Sequence[EncodedExample], pad_token_id: int) -> dict[str, Any]:
    """Right-padded input_ids, labels and a 2D attention mask for ``model(**batch)``."""
    import torch

    width = max(len(s) for s in sequences)
    ids, labels, mask = [], [], []
    for s in sequences:
        pad = width - len(s)
        ids.append(list(s.input_ids) + [pad_token_id] * pad)
        labels.append(list(s.labels) + [IGNORE_INDEX] * pad)
        mask.append([1] * len(s) + [0] * pad)
    return {
        "input_ids": torch.tensor(ids, dtype=torch.long),
        "labels": torch.tensor(labels, dtype=torch.long),
        "attention_mask": torch.tensor(mask, dtype=torch.long),
    }


def needs_reference_copy(spec: Any, is_peft: bool) -> bool:
    """Whether the run needs a frozen copy of the base as its reference (full or freeze fine-tuning with a
    loss that has a reference); LoRA disables its adapters instead."""
    kind = "kto" if spec.stage == "kto" else spec.pref_loss
    return kind not in REFERENCE_FREE and not is_peft


def frozen_copy(model: Any) -> Any:
    """A copy of ``model`` in eval mode with no parameter trained: the reference of full fine-tuning."""
    reference = copy.deepcopy(model).eval()
    for parameter in reference.parameters():
        parameter.requires_grad_(False)
    return reference


class PreferenceObjective:
    """The loss of a dpo or kto micro-batch and the reward metrics of the logging window.

    ``forward(model, batch)`` runs a model (under the loop's autocast) and returns its output logits (or
    hidden states, when ``head_weight`` gives lm_head's weight: the chunked-loss setup)."""

    def __init__(
        self,
        spec: Any,
        model: Any,
        forward_model: Any,
        *,
        is_peft: bool,
        head: Any,
        autocast: Callable[[], AbstractContextManager[Any]] = nullcontext,
        reference: Any = None,
    ) -> None:
        self.spec, self.stage = spec, spec.stage
        self.kind = "kto" if spec.stage == "kto" else spec.pref_loss
        self.model, self.forward_model, self.head, self.autocast = model, forward_model, head, autocast
        self.is_peft = is_peft
        if needs_reference_copy(spec, is_peft) and reference is None:
            raise ValueError(f"stage {spec.stage} with {spec.finetuning_type} needs a frozen reference copy")
        self.reference: Any = reference  # a frozen copy (full/freeze); None: adapters disabled, or none
        self.window: dict[str, list[float]] = {}

    # the loop's hooks ------------------------------------------------------------------------------------
    def collate(self, rows: Sequence[Any], pad_token_id: int, device: Any) -> dict[str, Any]:
        if self.stage == "kto":
            samples: Sequence[KtoSample] = rows
            sequences = [s.target for s in samples] + [s.kl for s in samples]
            batch = pad_sequences(sequences, pad_token_id)
            import torch

            batch["kto_tags"] = torch.tensor([s.kto_tag for s in samples], dtype=torch.bool)
        else:
            pairs: Sequence[PairExample] = rows
            batch = pad_sequences([p.chosen for p in pairs] + [p.rejected for p in pairs], pad_token_id)
        return {key: value.to(device) for key, value in batch.items()}

    @staticmethod
    def count(batch: dict[str, Any]) -> int:
        """The examples (pairs) of a micro-batch: a step's loss is the mean over its examples."""
        return int(batch["input_ids"].shape[0] // 2)

    def loss(self, batch: dict[str, Any], *, record: bool = True) -> Any:
        """The micro-batch's mean loss (with gradient); its rewards go to the logging window."""
        import torch

        n = self.count(batch)
        inputs = {key: batch[key] for key in ("input_ids", "attention_mask")}
        labels = batch["labels"]
        if self.stage == "kto":
            # the target half with gradient; the KL half (mismatched answers) without, as in TRL
            target = {key: value[:n] for key, value in inputs.items()}
            kl_part = {key: value[n:] for key, value in inputs.items()}
            policy, counts = self._logps(self.forward_model, target, labels[:n])
            with torch.no_grad():
                policy_kl, _ = self._logps(self.forward_model, kl_part, labels[n:])
                reference, _ = self._reference_logps(target, labels[:n])
                reference_kl, _ = self._reference_logps(kl_part, labels[n:])
            tags = batch["kto_tags"]
            terms = kto_terms(
                self.spec.pref_beta,
                policy,
                reference,
                tags,
                policy_kl,
                reference_kl,
                self.spec.kto_chosen_weight,
                self.spec.kto_rejected_weight,
            )
            chosen_avg = (policy / counts.clamp(min=1))[tags]
            loss = terms.losses.mean()
            if self.spec.pref_ftx > 0 and chosen_avg.numel():
                loss = loss + self.spec.pref_ftx * (-chosen_avg).sum() / n
        else:
            logps, counts = self._logps(self.forward_model, inputs, labels)
            chosen, rejected = self._per_kind(logps, counts, n)
            ref_chosen = ref_rejected = None
            if self.kind not in REFERENCE_FREE:
                with torch.no_grad():
                    ref, _ = self._reference_logps(inputs, labels)
                ref_chosen, ref_rejected = self._per_kind(ref, counts, n)
            terms = dpo_terms(
                self.kind,
                self.spec.pref_beta,
                chosen,
                rejected,
                ref_chosen,
                ref_rejected,
                self.spec.simpo_gamma,
            )
            loss = terms.losses.mean()
            if self.spec.pref_ftx > 0:
                loss = loss + self.spec.pref_ftx * -(logps[:n] / counts[:n].clamp(min=1)).mean()
        if record:
            self._record(terms)
        return loss.float()

    def _per_kind(self, logps: Any, counts: Any, n: int) -> tuple[Any, Any]:
        if self.kind in MEAN_LOGPS:
            logps = logps / counts.clamp(min=1)
        return logps[:n], logps[n:]

    def _logps(self, model: Any, inputs: dict[str, Any], labels: Any) -> tuple[Any, Any]:
        with self.autocast():
            output = model(**inputs).logits
        weight = self.head.weight if self.head is not None else None
        return sequence_logps(output, labels, weight)

    def _reference_logps(self, inputs: dict[str, Any], labels: Any) -> tuple[Any, Any]:
        if self.reference is not None:
            with self.autocast():
                output = self.reference(**inputs).logits
            head = self.reference.get_output_embeddings() if self.head is not None else None
            return sequence_logps(output, labels, head.weight if head is not None else None)
        with self.model.disable_adapter():  # peft: the base model, adapters off
            return self._logps(self.forward_model, inputs, labels)

    # metrics ------------------------------------------------------------------------------------------
    def _add(self, name: str, total: float, count: float) -> None:
        entry = self.window.setdefault(name, [0.0, 0.0])
        entry[0] += total
        entry[1] += count

    def _record(self, terms: PreferenceTerms) -> None:
        chosen, rejected = terms.chosen_rewards.float(), terms.rejected_rewards.float()
        self._add("rewards/chosen", float(chosen.sum()), chosen.numel())
        self._add("rewards/rejected", float(rejected.sum()), rejected.numel())
        if terms.kl is not None:
            self._add("kl", float(terms.kl), 1)
        else:  # pairs: accuracy and margin per pair
            self._add("rewards/accuracies", float((chosen > rejected).float().sum()), chosen.numel())
            self._add("rewards/margins", float((chosen - rejected).sum()), chosen.numel())

    def window_sums(self) -> list[tuple[str, float, float]]:
        """``(name, sum, count)`` of the window, in a fixed order (the ranks' lists are summed alike)."""
        names = ["rewards/chosen", "rewards/rejected"]
        names += ["kl"] if self.stage == "kto" else ["rewards/accuracies", "rewards/margins"]
        return [(name, *self.window.get(name, [0.0, 0.0])) for name in names]  # type: ignore[misc]

    @staticmethod
    def summarize(sums: list[tuple[str, float, float]]) -> dict[str, float]:
        """The window's means; for kto, margins = mean desirable reward - mean undesirable reward."""
        out = {name: round(total / count, 6) for name, total, count in sums if count}
        if "rewards/margins" not in out and "rewards/chosen" in out and "rewards/rejected" in out:
            out["rewards/margins"] = round(out["rewards/chosen"] - out["rewards/rejected"], 6)
        return out

    def reset_window(self) -> None:
        self.window = {}
