"""The root `persona` command: mounts each command group's module, in the order `persona
--help` lists them."""

from __future__ import annotations

import typer

from channels.cli.creators import creators, ingest, profile, reindex, token
from channels.cli.demo import demo
from channels.cli.evaluate import eval_app
from channels.cli.reply import reply
from channels.cli.serve import serve

app = typer.Typer(
    name="persona",
    help="Creator AI-persona platform: an AI double that answers fans in the creator's voice.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(eval_app, name="eval")
for command in (ingest, creators, profile, reply, reindex, token, demo, serve):
    app.command()(command)


def main() -> None:
    try:
        from channels.cli.avatar import avatar_app
    except ImportError:  # the avatar extra is optional
        avatar_app = None
    if avatar_app is not None:
        app.add_typer(avatar_app, name="avatar")
    from channels.cli.admin import admin_app

    app.add_typer(admin_app, name="admin")
    from channels.cli.connect import connect_app

    app.add_typer(connect_app, name="connect")
    from channels.cli.card import card_app

    app.add_typer(card_app, name="card")
    from channels.cli.eval_overlap import overlap
    from channels.cli.redteam import redteam

    eval_app.command("overlap")(overlap)

    app.command("redteam", help="Trust-and-safety report through the real model")(redteam)
    from channels.cli.eval_selection import selection

    eval_app.command("selection")(selection)
    from channels.cli.tune import tune

    app.command("tune", help="Train a creator's voice adapter (LoRA) on their posts")(tune)
    from channels.cli.jobs import jobs_command
    from channels.doctor import doctor_command

    app.command("doctor")(doctor_command)
    app.command("jobs")(jobs_command)
    app(prog_name="persona")
