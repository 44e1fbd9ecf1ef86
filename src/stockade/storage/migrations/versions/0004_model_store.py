"""Model store: registered model versions (manifest, lineage, stage) and evaluation reports.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("architecture", sa.String(100), nullable=False),
        sa.Column("template", sa.String(100)),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("lineage", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("stage", sa.String(20), nullable=False, server_default="draft"),
        sa.Column("status", sa.String(20), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
    )
    op.create_index("ix_model_versions_name", "model_versions", ["name"])
    op.create_index("ix_model_versions_manifest_sha256", "model_versions", ["manifest_sha256"])
    op.create_index("ix_model_versions_status", "model_versions", ["status"])
    op.create_table(
        "eval_reports",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("model_version_id", sa.String(64), sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("dataset", sa.String(200), nullable=False),
        sa.Column("baseline_version_id", sa.String(64), sa.ForeignKey("model_versions.id")),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
    )
    op.create_index("ix_eval_reports_model_version_id", "eval_reports", ["model_version_id"])


def downgrade() -> None:
    op.drop_index("ix_eval_reports_model_version_id", "eval_reports")
    op.drop_table("eval_reports")
    op.drop_index("ix_model_versions_status", "model_versions")
    op.drop_index("ix_model_versions_manifest_sha256", "model_versions")
    op.drop_index("ix_model_versions_name", "model_versions")
    op.drop_table("model_versions")
