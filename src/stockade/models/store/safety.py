"""The safe-loading policy: which weight formats and which model code a workspace accepts.

* Weights: safetensors always; pickle-based files (``*.bin``, ``*.pt``...) only when the policy sets
  ``allow_pickle_weights: true`` — unpickling can run arbitrary code.
* Remote code (``auto_map`` in config.json, ``*.py`` files; ``trust_remote_code`` models such as
  ChatGLM3): only when the SHA-256 of every code file is on ``remote_code_allowlist``.

The policy lives in the workspace file ``models/safety-policy.yaml`` (absent: the strict defaults), so an
administrator approves by editing one reviewed file; docs/models.md gives the steps.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator

from stockade.core.errors import StockadeError
from stockade.core.hashing import sha256_file
from stockade.core.specs.base import Spec
from stockade.core.specs.loader import load_spec
from stockade.models.store.detect import FolderInfo

POLICY_FILE = "models/safety-policy.yaml"
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class UnsafeModel(StockadeError):
    """The folder needs something the workspace's safe-loading policy does not allow."""

    exit_code = 2


class ApprovedCode(Spec):
    sha256: str = Field(description="SHA-256 of one approved code file (64 lowercase hex digits).")
    file: str = Field("", description="The file's name, for people reading the list.")
    approved_by: str = Field("", description="Who reviewed the code and approved it.")
    note: str = Field("", description="Which release, which review.")

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        value = value.strip().lower()
        if not SHA256.match(value):
            raise ValueError("must be 64 hex digits (the output of `sha256sum FILE`)")
        return value


class SafetyPolicy(Spec):
    """``models/safety-policy.yaml`` in the workspace."""

    allow_pickle_weights: bool = Field(
        False, description="Accept pickle-based weights (*.bin, *.pt) when a folder has no safetensors."
    )
    remote_code_allowlist: list[ApprovedCode] = Field(
        default_factory=list, description="Code files (by SHA-256) an administrator reviewed and approved."
    )

    def approved(self, digest: str) -> bool:
        return any(entry.sha256 == digest for entry in self.remote_code_allowlist)


def load_policy(workspace_root: Path) -> SafetyPolicy:
    path = workspace_root / POLICY_FILE
    return load_spec(SafetyPolicy, path) if path.is_file() else SafetyPolicy()


def check_folder(info: FolderInfo, policy: SafetyPolicy, *, policy_path: str = POLICY_FILE) -> dict[str, str]:
    """Refuse what the policy does not allow; return ``{code file: sha256}`` of approved code files."""
    if info.weights_format == "pickle" and not policy.allow_pickle_weights:
        raise UnsafeModel(
            f"the weights are pickle files ({', '.join(info.weights[:3])}); loading pickle can run "
            "arbitrary code, so this workspace refuses them",
            where=str(info.folder),
            fix="convert the weights to safetensors on a trusted machine (e.g. load and save_pretrained with "
            "safe_serialization=True) and import that folder; or, if an administrator accepts the risk, set "
            f"`allow_pickle_weights: true` in {policy_path} (see docs/models.md)",
        )
    code = {name: sha256_file(info.folder / name) for name in info.code_files}
    if info.needs_remote_code:
        if info.auto_map and not code:
            raise UnsafeModel(
                f"{', '.join(info.auto_map)} has an auto_map (trust_remote_code) but the folder has no "
                "code files",
                where=str(info.folder),
                fix="copy the model's *.py files too, or use a release that transformers supports natively",
            )
        unapproved = {name: digest for name, digest in code.items() if not policy.approved(digest)}
        if unapproved:
            lines = "; ".join(f"{name} sha256 {digest}" for name, digest in unapproved.items())
            raise UnsafeModel(
                f"the model ships code that would run when loaded (trust_remote_code), and "
                f"{len(unapproved)} code file(s) are not on the approved list: {lines}",
                where=str(info.folder),
                fix="prefer a release transformers supports natively (e.g. GLM-4 instead of ChatGLM3). "
                f"Otherwise an administrator reviews each file and adds its sha256 to remote_code_allowlist "
                f"in {policy_path} (steps in docs/models.md), then import again",
            )
    return code
