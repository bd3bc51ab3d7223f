"""avatar studio tables (avatar.store.AvatarBase)

Revision ID: 0002_avatar
Revises: 0001_initial
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_avatar"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "avatar_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("creator_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("backend", sa.String(length=32), nullable=False),
        sa.Column("styles", sa.JSON(), nullable=False),
        sa.Column("verdicts", sa.JSON(), nullable=False),
        sa.Column("images_total", sa.Integer(), nullable=False),
        sa.Column("images_done", sa.Integer(), nullable=False),
        sa.Column("images_dropped", sa.Integer(), nullable=False),
        sa.Column("percent", sa.Float(), nullable=False),
        sa.Column("visible_mark", sa.Boolean(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("output_retention_s", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uploads_expire_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploads_deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("avatar_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_avatar_jobs_creator_created", ["creator_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_avatar_jobs_state", ["state"], unique=False)

    op.create_table(
        "avatar_outputs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("creator_id", sa.String(length=64), nullable=False),
        sa.Column("style", sa.String(length=64), nullable=False),
        sa.Column("photo_index", sa.Integer(), nullable=False),
        sa.Column("variant", sa.Integer(), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("chosen", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["avatar_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("avatar_outputs", schema=None) as batch_op:
        batch_op.create_index("ix_avatar_outputs_job_rank", ["job_id", "rank"], unique=False)
        batch_op.create_index("ix_avatar_outputs_expires", ["expires_at"], unique=False)

    op.create_table(
        "avatar_profile_pictures",
        sa.Column("creator_id", sa.String(length=64), nullable=False),
        sa.Column("output_id", sa.String(length=32), nullable=True),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("creator_id"),
    )


def downgrade() -> None:
    op.drop_table("avatar_profile_pictures")
    with op.batch_alter_table("avatar_outputs", schema=None) as batch_op:
        batch_op.drop_index("ix_avatar_outputs_expires")
        batch_op.drop_index("ix_avatar_outputs_job_rank")
    op.drop_table("avatar_outputs")
    with op.batch_alter_table("avatar_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_avatar_jobs_state")
        batch_op.drop_index("ix_avatar_jobs_creator_created")
    op.drop_table("avatar_jobs")
