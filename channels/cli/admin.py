r"""`persona admin ...`: console accounts for creators (creators themselves never use the CLI).

printf '%s\n' "$PASSWORD" | persona admin create-creator ana --name "Ana" --password-stdin
persona admin set-password ana            # asks twice, without echo
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from channels.cli.common import console, err, open_services

admin_app = typer.Typer(
    help="Manage creators' console accounts (sign-in at /console).", no_args_is_help=True
)

CREATOR_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"


def _creator_id(value: str) -> str:
    value = value.strip().lstrip("@").lower()
    if not re.match(CREATOR_ID_PATTERN, value):
        raise typer.BadParameter(
            "1-64 characters: lowercase letters, digits, '.', '_' or '-', starting with a "
            "letter or digit (the creator's handle, e.g. camille.cuisine)"
        )
    return value


def _has_terminal() -> bool:
    return sys.stdin.isatty()


def _password(from_stdin: bool, command: str) -> str:
    if from_stdin:
        # One line: what `printf '%s\n' "$PW" |` or a secrets manager pipes in.
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            err.print("[red]no password on standard input[/red]")
            raise typer.Exit(2)
        return password
    if not _has_terminal():
        # getpass would warn that it cannot hide the echo, then read nothing ("Aborted.").
        err.print(
            "[red]no terminal to type the password in.[/red] Run it in a terminal, or pipe "
            "the password in:\n"
            f"  printf '%s\\n' \"$PASSWORD\" | persona admin {command} --password-stdin",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2)
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@admin_app.command("create-creator")
def create_creator(
    creator_id: Annotated[
        str, typer.Argument(help="Creator id (their handle)", callback=_creator_id)
    ],
    name: Annotated[str, typer.Option("--name", help="Display name")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Create a creator's console account (and the creator, if new)."""
    from channels.console.auth import AccountExistsError, PasswordPolicyError, create_account

    password = _password(password_stdin, f'create-creator {creator_id} --name "{name}"')
    with open_services() as services:
        try:
            created = create_account(
                services.db, creator_id, name.strip() or None, password, datetime.now(UTC)
            )
        except (AccountExistsError, PasswordPolicyError) as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    what = "creator and console account" if created else "console account"
    console.print(
        f"created the {what} for {creator_id}: sign in at http://HOST:PORT/console/login "
        f"(e.g. http://127.0.0.1:8000/console/login) with the id {creator_id} and this password",
        highlight=False,
        soft_wrap=True,
    )


@admin_app.command("set-password")
def set_password(
    creator_id: Annotated[str, typer.Argument(help="Creator id", callback=_creator_id)],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Set a new password (also unlocks the account and signs out every browser)."""
    from channels.console.auth import PasswordPolicyError, UnknownAccountError
    from channels.console.auth import set_password as change

    password = _password(password_stdin, f"set-password {creator_id}")
    with open_services() as services:
        try:
            ended = change(services.db, creator_id, password, datetime.now(UTC))
        except (UnknownAccountError, PasswordPolicyError) as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    console.print(f"password changed for {creator_id}; {ended} session(s) signed out")
