"""conversations the creator answers in person (the AI double stays quiet in them)

Revision ID: 0012_conversation_takeovers
Revises: 0010_console_login_failures

Its own branch from 0010: a 0011 was still being written beside it, and channels.migrate
upgrades to "heads", so either order of landing keeps a valid chain.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_conversation_takeovers"
down_revision = "0010_console_login_failures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_takeovers",
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("creator_id", sa.String(length=64), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["creator_id"], ["creators.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("conversation_id"),
    )


def downgrade() -> None:
    op.drop_table("conversation_takeovers")
