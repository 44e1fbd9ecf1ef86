"""A workspace with alice (trainer and data steward) and bob (reviewer), for the job queue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stockade.workspace.service import Actor, initialize_workspace, open_workspace

PII_RECORDS = [
    {
        "instruction": "生成风险评估报告",
        "input": "客户A,身份证号110105199003072813,手机13812345678",
        "output": "风险中等。",
    },
    {"instruction": "什么是LPR", "input": "", "output": "LPR即贷款市场报价利率。"},
]


@pytest.fixture
def team_workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    initialize_workspace(root, admin_name="admin", admin_password="admin-password-1")
    from stockade.governance.users import add_user

    with open_workspace(root, actor=Actor(name="admin", role="admin")) as context:
        add_user(context, "alice", ["trainer", "data_steward"], "alice-password-1")
        add_user(context, "bob", ["reviewer"], "bob-password-1")
    return root


def as_user(root: Path, name: str, role: str):
    return open_workspace(root, actor=Actor(name=name, role=role, source="test"))


def write_pii_dataset(path: Path) -> Path:
    path.write_text(json.dumps(PII_RECORDS, ensure_ascii=False), encoding="utf-8")
    return path
