"""The privacy engine: detectors + a policy's operators applied to one text at a time."""

from __future__ import annotations

from typing import Any

from stockade.privacy.policy import PrivacyPolicy
from stockade.privacy.spans import PiiType, Span


def _instantiate(item: Any) -> Any:
    return item() if isinstance(item, type) else item


class PrivacyEngine:
    """Scans and desensitizes strings. Built once per process (it compiles nothing per call)."""

    def __init__(self, policy: PrivacyPolicy, secret: bytes) -> None:
        from stockade.privacy.detectors import DETECTORS, default_detectors
        from stockade.privacy.operators import build_params

        self.policy = policy
        self._secret = secret
        if policy.detectors:
            self.detectors = [_instantiate(DETECTORS.get(name)) for name in policy.detectors]
        else:
            self.detectors = list(default_detectors())
        self._rules = {
            pii_type: (rule.operator, build_params(rule.operator, rule.params))
            for pii_type, rule in policy.rules.items()
        }

    def worker_args(self) -> tuple[dict[str, Any], bytes]:
        """What another process needs to build the same engine."""
        return self.policy.model_dump(mode="json"), self._secret

    def detector_versions(self) -> dict[str, str]:
        return {detector.name: detector.version for detector in self.detectors}

    def operators(self) -> dict[str, str]:
        return {pii_type.value: operator for pii_type, (operator, _) in self._rules.items()}

    def scan(self, text: str) -> list[Span]:
        from stockade.privacy.detectors import detect_all

        return [span for span in detect_all(text, self.detectors) if span.score >= self.policy.min_score]

    def transform(self, text: str, spans: list[Span]) -> str:
        """Apply each span's operator; ``spans`` are non-overlapping and sorted (as ``scan`` returns)."""
        from stockade.privacy.operators import apply_operator

        pieces, last = [], 0
        for span in spans:
            operator, params = self._rules[PiiType(span.type)]
            pieces.append(text[last : span.start])
            pieces.append(
                apply_operator(operator, text[span.start : span.end], span.type, params, self._secret)
            )
            last = span.end
        pieces.append(text[last:])
        return "".join(pieces)

    def desensitize(self, text: str) -> tuple[str, list[Span]]:
        spans = self.scan(text)
        return (self.transform(text, spans), spans) if spans else (text, spans)
