"""avatar: a job's report (median likeness and diversity of its avatars), shown to the creator

Revision ID: 0013_avatar_report
Revises: 0012_conversation_takeovers
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_avatar_report"
down_revision = "0012_conversation_takeovers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("avatar_jobs") as batch:
        batch.add_column(sa.Column("report", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("avatar_jobs") as batch:
        batch.drop_column("report")
