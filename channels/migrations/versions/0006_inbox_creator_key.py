"""inbox: duplicates are per creator, (creator_id, platform, message_id)

Revision ID: 0006_inbox_creator_key
Revises: 0005_console
"""

from alembic import op

revision = "0006_inbox_creator_key"
down_revision = "0005_console"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every existing row is unique on (platform, message_id), so it is on the wider key too.
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_inbox_platform_message", type_="unique")
        batch_op.create_unique_constraint(
            "uq_inbox_creator_platform_message", ["creator_id", "platform", "message_id"]
        )


def downgrade() -> None:
    # Fails if two creators now share a (platform, message_id): those rows must go first.
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_inbox_creator_platform_message", type_="unique")
        batch_op.create_unique_constraint("uq_inbox_platform_message", ["platform", "message_id"])
