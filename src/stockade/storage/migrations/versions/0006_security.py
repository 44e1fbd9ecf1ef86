"""Access control: issued credentials (JWTs and hashed API keys) and lockouts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "security_credentials",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("models", sa.Text()),
        sa.Column("secret_sha256", sa.String(64)),
        sa.Column("signing_key_id", sa.String(64)),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=False),
        sa.Column("revoked_at", sa.String(40)),
        sa.Column("revoked_by", sa.String(200)),
    )
    op.create_index("ix_security_credentials_kind", "security_credentials", ["kind"])
    op.create_index("ix_security_credentials_subject", "security_credentials", ["subject"])
    op.create_table(
        "security_lockouts",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.String(40), nullable=False),
        sa.Column("locked_until", sa.String(40)),
    )


def downgrade() -> None:
    op.drop_table("security_lockouts")
    op.drop_index("ix_security_credentials_subject", "security_credentials")
    op.drop_index("ix_security_credentials_kind", "security_credentials")
    op.drop_table("security_credentials")
