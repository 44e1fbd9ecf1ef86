"""The privacy engine: detectors + a policy's operators applied to one text at a time.

``scan`` runs the built-in detectors and the policy's custom types (overlaps resolved), drops
spans below ``min_score`` and spans inside an allow-list string, then adds the deny-list strings
(which win over what they overlap, see ``detectors.custom.merge_denied``).
"""

from __future__ import annotations

from typing import Any

from stockade.privacy.policy import PrivacyPolicy
from stockade.privacy.spans import PiiType, Span, SpanType

#: Strings up to this long have their spans remembered (:meth:`PrivacyEngine.scan`), at most
#: ``MEMO_ENTRIES`` of them (the memory is then cleared): repeated instructions and prompts.
MEMO_MAX_CHARS = 200
MEMO_ENTRIES = 4096


def _instantiate(item: Any) -> Any:
    return item() if isinstance(item, type) else item


class PrivacyEngine:
    """Scans and desensitizes strings. Built once per process (it compiles nothing per call)."""

    def __init__(self, policy: PrivacyPolicy, secret: bytes) -> None:
        from stockade.privacy.detectors import DETECTORS, default_detectors
        from stockade.privacy.detectors.custom import AllowList, DenyListDetector, build_custom_detectors
        from stockade.privacy.operators import OPERATORS, build_params

        self.policy = policy
        self._secret = secret
        if policy.detectors:
            builtin = [_instantiate(DETECTORS.get(name)) for name in policy.detectors]
        else:
            builtin = list(default_detectors())
        custom = build_custom_detectors(policy.custom_definitions())
        #: Every type by name: the built-in ones and the policy's (which carry their labels).
        types: dict[str, SpanType] = {pii_type.value: pii_type for pii_type in PiiType}
        types.update({detector.type.value: detector.type for detector in custom})
        self._scanners = [*builtin, *custom]
        self._deny = (
            DenyListDetector(
                {entry: types[name] for name, entries in policy.deny_list.items() for entry in entries}
            )
            if any(policy.deny_list.values())
            else None
        )
        self._allow = AllowList(policy.allow_list) if policy.allow_list else None
        #: Spans of short strings already scanned: a dataset repeats its instructions and system
        #: prompts in every record ("请总结以下内容"), and the scan of a string depends on nothing else.
        self._seen: dict[str, tuple[Span, ...]] = {}
        #: What produces spans, with versions for lineage (the deny list included).
        self.detectors = [*self._scanners, *([self._deny] if self._deny else [])]
        self._rules = {
            types[name]: (rule.operator, build_params(rule.operator, rule.params))
            for name, rule in policy.rules.items()
        }
        # The operator objects, looked up once: ``transform`` calls them directly (the policy has
        # already checked every rule's operator against its type, which ``apply_operator`` would
        # do again for each span).
        self._bound = {
            pii_type: (OPERATORS.get(operator).apply, params)
            for pii_type, (operator, params) in self._rules.items()
        }
        #: The output of each type whose operator ignores the value (``replace``'s placeholder,
        #: ``redact``'s nothing), rendered once: a dense file replaces tens of thousands of spans.
        #: Kept with the type object it was rendered for (a custom type's label is part of it).
        self._fixed: dict[SpanType, tuple[SpanType, str]] = {}
        for pii_type, (operator, params) in self._rules.items():
            constant = getattr(OPERATORS.get(operator), "constant", None)
            piece = constant(pii_type, params) if constant is not None else None
            if piece is not None:
                self._fixed[pii_type] = (pii_type, piece)

    def worker_args(self) -> tuple[dict[str, Any], bytes]:
        """What another process needs to build the same engine."""
        return self.policy.model_dump(mode="json"), self._secret

    def detector_versions(self) -> dict[str, str]:
        return {detector.name: detector.version for detector in self.detectors}

    def operators(self) -> dict[str, str]:
        return {pii_type.value: operator for pii_type, (operator, _) in self._rules.items()}

    def scan(self, text: str) -> list[Span]:
        if len(text) > MEMO_MAX_CHARS:
            return self._scan(text)
        known = self._seen.get(text)
        if known is None:
            if len(self._seen) >= MEMO_ENTRIES:
                self._seen.clear()
            known = self._seen[text] = tuple(self._scan(text))
        return list(known)

    def _scan(self, text: str) -> list[Span]:
        from stockade.privacy.detectors import detect_all
        from stockade.privacy.detectors.custom import merge_denied

        min_score = self.policy.min_score
        spans = [span for span in detect_all(text, self._scanners) if span.score >= min_score]
        if spans and self._allow is not None:
            spans = self._allow.drop(text, spans)
        if self._deny is not None:
            spans = merge_denied(spans, self._deny.detect(text))
        return spans

    def transform(self, text: str, spans: list[Span]) -> str:
        """Apply each span's operator; ``spans`` are non-overlapping and sorted (as ``scan`` returns)."""
        pieces, last = [], 0
        bound, fixed, secret = self._bound, self._fixed, self._secret
        for start, end, kind, _, _ in spans:  # unpacked: cheaper than five attribute reads
            rendered = fixed.get(kind)
            if rendered is not None and rendered[0] is kind:  # the very type it was rendered for
                piece = rendered[1]
            else:
                apply, params = bound[kind]  # keyed by name: PiiType, CustomType or str
                piece = apply(text[start:end], kind, params, secret)
            pieces.append(text[last:start])
            pieces.append(piece)
            last = end
        pieces.append(text[last:])
        return "".join(pieces)

    def desensitize(self, text: str) -> tuple[str, list[Span]]:
        spans = self.scan(text)
        return (self.transform(text, spans), spans) if spans else (text, spans)
