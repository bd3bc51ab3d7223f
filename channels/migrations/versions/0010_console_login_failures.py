"""console: failed sign-ins per account and client address (the lock no longer locks everyone)

Revision ID: 0010_console_login_failures
Revises: 0009_live_policy_key
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_console_login_failures"
down_revision = "0009_live_policy_key"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_login_failures",
        sa.Column("creator_id", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["creator_id"], ["creators.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("creator_id", "client"),
    )


def downgrade() -> None:
    op.drop_table("console_login_failures")
