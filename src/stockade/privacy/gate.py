"""The import gate: scan the staged records, then desensitize, block, or allow them by policy."""

from __future__ import annotations

from stockade.privacy.engine import PrivacyEngine
from stockade.privacy.files import process_lines
from stockade.privacy.report import ScanReport
from stockade.privacy.verdict import GateVerdict, StagedRecords


def describe_engine(report: ScanReport, engine: PrivacyEngine) -> ScanReport:
    report.policy = engine.policy.name
    report.policy_sha256 = engine.policy.fingerprint()
    report.mode = engine.policy.mode
    report.detectors = engine.detector_versions()
    report.operators = engine.operators()
    return report


class PolicyGate:
    """A privacy gate driven by a policy. ``allow`` stores personal data unchanged, and says so."""

    name = "policy"

    def __init__(self, engine: PrivacyEngine, *, workers: int | None = None) -> None:
        self.engine = engine
        self.workers = workers

    def inspect(self, staged: StagedRecords, *, dataset: str) -> GateVerdict:
        mode = self.engine.policy.mode
        if mode == "desensitize":  # the desensitized records replace the staged ones
            with staged.reader() as lines, staged.writer() as sink:
                report = process_lines(
                    "records", lines, staged.size, self.engine, sink=sink, workers=self.workers
                )
        else:
            with staged.reader() as lines:
                report = process_lines(
                    "records", lines, staged.size, self.engine, sink=None, workers=self.workers
                )
        describe_engine(report, self.engine)
        found = report.total > 0
        status = (
            {"desensitize": "desensitized", "block": "refused", "allow": "allowed"}[mode]
            if found
            else "passed"
        )
        return GateVerdict(
            status=status, gate=self.name, policy=self.engine.policy.name, report=report.to_dict()
        )
