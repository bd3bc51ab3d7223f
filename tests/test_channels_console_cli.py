"""`persona admin create-creator` / `set-password`: console accounts from the command line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from channels.cli.admin import admin_app
from channels.console.auth import AuthConfig, SignInRefused, sign_in
from channels.migrate import upgrade
from persona.store import Creator, Database, DatabaseConfig

PASSWORD = "a long enough passphrase"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"PERSONA_DATA_DIR": str(tmp_path / "data"), "PERSONA_LOG_LEVEL": "WARNING"}


def database(env: dict[str, str]) -> Database:
    db = Database(DatabaseConfig(f"sqlite:///{Path(env['PERSONA_DATA_DIR']) / 'persona.db'}"))
    upgrade(db.engine)
    return db


def run(env: dict[str, str], *args: str, stdin: str | None = None):  # noqa: ANN201
    return CliRunner().invoke(admin_app, list(args), input=stdin, env=env)


def test_create_creator_reads_the_password_from_stdin(env: dict[str, str]) -> None:
    result = run(
        env,
        "create-creator",
        "@Ana.Cooks",
        "--name",
        "Ana",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "created the creator and console account for ana.cooks" in result.output
    db = database(env)
    try:
        with db.session() as session:
            assert session.get(Creator, "ana.cooks").display_name == "Ana"
        now = datetime.now(UTC)
        assert sign_in(db, "ana.cooks", PASSWORD, now, AuthConfig()).creator_id == "ana.cooks"
    finally:
        db.dispose()
    again = run(
        env,
        "create-creator",
        "ana.cooks",
        "--name",
        "Ana",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert again.exit_code == 1 and "already has a console account" in again.output


def test_bad_ids_and_weak_passwords_are_refused(env: dict[str, str]) -> None:
    bad_id = run(
        env, "create-creator", "Not Valid!", "--name", "X", "--password-stdin", stdin=PASSWORD
    )
    assert bad_id.exit_code == 2 and "lowercase letters" in bad_id.output
    weak = run(env, "create-creator", "bo", "--name", "Bo", "--password-stdin", stdin="short\n")
    assert weak.exit_code == 1 and "at least 10" in weak.output
    empty = run(env, "create-creator", "bo", "--name", "Bo", "--password-stdin", stdin="")
    assert empty.exit_code == 2 and "no password" in empty.output


def test_set_password_replaces_the_old_one(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("channels.cli.admin._has_terminal", lambda: True)  # typed in
    assert (
        run(
            env, "create-creator", "cy", "--name", "Cy", "--password-stdin", stdin=PASSWORD
        ).exit_code
        == 0
    )
    result = run(
        env, "set-password", "cy", stdin="another good passphrase\nanother good passphrase\n"
    )
    assert result.exit_code == 0, result.output  # prompted twice, without echo
    assert "password changed for cy" in result.output
    db = database(env)
    try:
        now = datetime.now(UTC)
        with pytest.raises(SignInRefused):
            sign_in(db, "cy", PASSWORD, now, AuthConfig())
        assert sign_in(db, "cy", "another good passphrase", now, AuthConfig()).creator_id == "cy"
    finally:
        db.dispose()
    unknown = run(env, "set-password", "nobody", "--password-stdin", stdin=PASSWORD)
    assert unknown.exit_code == 1 and "has no console account" in unknown.output


def test_without_a_terminal_it_says_how_to_pipe_the_password(env: dict[str, str]) -> None:
    result = run(env, "create-creator", "ana", "--name", "Ana")
    assert result.exit_code == 2
    assert "no terminal to type the password in" in result.output
    assert "--password-stdin" in result.output and "Aborted" not in result.output
