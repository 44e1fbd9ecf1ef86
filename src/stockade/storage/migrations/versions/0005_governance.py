"""Governance: users, login sessions, model-version transitions and approvals, audit checkpoints.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A user may hold several roles; the audit record's role names them all (comma-separated).
    # SQLite does not enforce VARCHAR lengths, so only other databases need the wider column.
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("audit_records", "role", type_=sa.String(200), existing_type=sa.String(50))
    op.create_table(
        "users",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("password_changed_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=False),
        sa.Column("ended_at", sa.String(40)),
        sa.Column("source", sa.String(200)),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])
    op.create_table(
        "model_transitions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("model_version_id", sa.String(64), sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("from_stage", sa.String(20), nullable=False),
        sa.Column("to_stage", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(200)),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("eval_report_id", sa.String(64), sa.ForeignKey("eval_reports.id")),
        sa.Column("request_id", sa.String(64)),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_model_transitions_model_version_id", "model_transitions", ["model_version_id"])
    op.create_table(
        "model_approvals",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("model_version_id", sa.String(64), sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("model_transitions.id"), nullable=False),
        sa.Column("approver", sa.String(200), nullable=False),
        sa.Column("role", sa.String(200)),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("submission_id", "approver", name="uq_model_approvals_submission"),
    )
    op.create_index("ix_model_approvals_model_version_id", "model_approvals", ["model_version_id"])
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("audit_records", "role", type_=sa.String(50), existing_type=sa.String(200))
    op.drop_table("audit_checkpoints")
    op.drop_index("ix_model_approvals_model_version_id", "model_approvals")
    op.drop_table("model_approvals")
    op.drop_index("ix_model_transitions_model_version_id", "model_transitions")
    op.drop_table("model_transitions")
    op.drop_index("ix_user_sessions_user_id", "user_sessions")
    op.drop_table("user_sessions")
    op.drop_table("users")
