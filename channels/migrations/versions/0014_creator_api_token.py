"""creators: the API token's hash in a column of its own, out of the settings JSON

`Creator.settings["api_token_sha256"]` moves to `creators.api_token_sha256`: the settings bag
is what the creator edits (console, cards, CLI), and a secret had no place in it. Upgrade
copies every stored hash into the column and drops the key from the JSON; downgrade puts it
back into the JSON and drops the column.

The other settings keys need no data migration: `persona.settings.CreatorSettings` reads the
JSON as it is stored (same keys, same defaults) and keeps keys it does not know.

Revision ID: 0014_creator_api_token
Revises: 0013_avatar_report
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_creator_api_token"
down_revision = "0013_avatar_report"
branch_labels = None
depends_on = None

KEY = "api_token_sha256"


def _creators(*extra: sa.ColumnClause) -> sa.TableClause:
    return sa.table("creators", sa.column("id", sa.String), sa.column("settings", sa.JSON), *extra)


def upgrade() -> None:
    with op.batch_alter_table("creators") as batch:
        batch.add_column(sa.Column(KEY, sa.String(length=64), nullable=True))
    creators = _creators(sa.column(KEY, sa.String))
    bind = op.get_bind()
    rows = bind.execute(sa.select(creators.c.id, creators.c.settings)).all()
    for creator_id, settings in rows:
        if not isinstance(settings, dict) or KEY not in settings:
            continue
        rest = {k: v for k, v in settings.items() if k != KEY}
        value = settings[KEY]
        bind.execute(
            creators.update()
            .where(creators.c.id == creator_id)
            .values(
                settings=rest,
                **{KEY: value if isinstance(value, str) and value else None},
            )
        )


def downgrade() -> None:
    creators = _creators(sa.column(KEY, sa.String))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(creators.c.id, creators.c.settings, creators.c[KEY]).where(
            creators.c[KEY].is_not(None)
        )
    ).all()
    for creator_id, settings, value in rows:
        stored = dict(settings) if isinstance(settings, dict) else {}
        stored[KEY] = value
        bind.execute(creators.update().where(creators.c.id == creator_id).values(settings=stored))
    with op.batch_alter_table("creators") as batch:
        batch.drop_column(KEY)
