"""Console accounts and sessions: argon2id hashes, the lock after failed sign-ins, session
expiry and revocation (real SQLite database, migrated like the platform's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from channels.console.auth import (
    AccountExistsError,
    AuthConfig,
    PasswordPolicyError,
    SignInRefused,
    UnknownAccountError,
    create_account,
    hash_password,
    load_session,
    purge_expired_sessions,
    set_password,
    sign_in,
    sign_out,
    token_sha256,
    touch_session,
    verify_password,
)
from channels.console.middleware import cookie_value, cross_site
from channels.console.models import ConsoleSession, ConsoleUser
from channels.migrate import upgrade
from persona.store import Creator, Database, DatabaseConfig

PASSWORD = "correct horse battery staple"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CONFIG = AuthConfig(session_idle_s=3600, session_max_s=6 * 3600, max_failed_logins=3, lockout_s=600)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(DatabaseConfig(f"sqlite:///{tmp_path / 'console.db'}"))
    upgrade(database.engine)
    yield database
    database.dispose()


def test_passwords_are_argon2id_hashes_that_verify_only_the_right_password() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, PASSWORD + "!")
    assert not verify_password("not a hash", PASSWORD)
    with pytest.raises(PasswordPolicyError, match="at least 10"):
        hash_password("short")


def test_create_account_creates_the_creator_once(db: Database) -> None:
    assert create_account(db, "ana", "Ana Lopez", PASSWORD, NOW) is True
    with db.session() as session:
        assert session.get(Creator, "ana").display_name == "Ana Lopez"
        user = session.get(ConsoleUser, "ana")
        assert user.password_hash.startswith("$argon2id$")
    with pytest.raises(AccountExistsError, match="set-password"):
        create_account(db, "ana", None, PASSWORD, NOW)


def test_an_existing_creator_gets_an_account_and_keeps_their_data(db: Database) -> None:
    with db.session() as session:
        session.add(Creator(id="bob", display_name="Bob", settings={"paused": True}))
    assert create_account(db, "bob", None, PASSWORD, NOW) is False
    with db.session() as session:
        creator = session.get(Creator, "bob")
        assert creator.display_name == "Bob" and creator.settings == {"paused": True}


def test_sign_in_opens_a_session_that_only_its_token_finds(db: Database) -> None:
    create_account(db, "ana", "Ana", PASSWORD, NOW)
    signed = sign_in(db, "ana", PASSWORD, NOW, CONFIG)
    info = load_session(db, signed.token, NOW, CONFIG)
    assert info is not None and info.creator_id == "ana" and info.csrf_token == signed.csrf_token
    with db.session() as session:
        row = session.get(ConsoleSession, token_sha256(signed.token))
        # Only the token's hash is stored: a copy of the database does not sign anyone in.
        assert row is not None and signed.token not in (row.token_sha256, row.csrf_token)
    assert load_session(db, signed.token + "x", NOW, CONFIG) is None
    assert load_session(db, "", NOW, CONFIG) is None


def test_wrong_passwords_lock_the_account_for_a_while(db: Database) -> None:
    create_account(db, "ana", "Ana", PASSWORD, NOW)
    for _ in range(CONFIG.max_failed_logins):
        with pytest.raises(SignInRefused, match="wrong creator id or password"):
            sign_in(db, "ana", "wrong password!", NOW, CONFIG)
    # Locked: even the right password is refused until the lock ends.
    with pytest.raises(SignInRefused, match="locked") as refused:
        sign_in(db, "ana", PASSWORD, NOW + timedelta(seconds=60), CONFIG)
    assert refused.value.locked_until == NOW + timedelta(seconds=CONFIG.lockout_s)
    later = NOW + timedelta(seconds=CONFIG.lockout_s + 1)
    assert sign_in(db, "ana", PASSWORD, later, CONFIG).creator_id == "ana"


def test_unknown_accounts_are_refused_like_wrong_passwords(db: Database) -> None:
    with pytest.raises(SignInRefused, match="wrong creator id or password"):
        sign_in(db, "nobody", PASSWORD, NOW, CONFIG)


def test_sessions_end_when_idle_or_too_old_and_slide_while_used(db: Database) -> None:
    create_account(db, "ana", "Ana", PASSWORD, NOW)
    token = sign_in(db, "ana", PASSWORD, NOW, CONFIG).token
    # Used every 50 minutes: the idle expiry moves forward ...
    when = NOW
    for _ in range(6):
        when += timedelta(minutes=50)
        info = load_session(db, token, when, CONFIG)
        assert info is not None and info.needs_touch
        touch_session(db, info.token_sha256, when, CONFIG)
    # ... but never past the absolute lifetime.
    assert load_session(db, token, NOW + timedelta(seconds=CONFIG.session_max_s), CONFIG) is None
    other = sign_in(db, "ana", PASSWORD, NOW, CONFIG).token
    assert (
        load_session(db, other, NOW + timedelta(seconds=CONFIG.session_idle_s + 1), CONFIG) is None
    )


def test_sign_out_and_password_change_end_sessions(db: Database) -> None:
    create_account(db, "ana", "Ana", PASSWORD, NOW)
    first = sign_in(db, "ana", PASSWORD, NOW, CONFIG).token
    second = sign_in(db, "ana", PASSWORD, NOW, CONFIG).token
    sign_out(db, token_sha256(first))
    assert load_session(db, first, NOW, CONFIG) is None
    assert load_session(db, second, NOW, CONFIG) is not None
    assert set_password(db, "ana", "a brand new passphrase", NOW) == 1
    assert load_session(db, second, NOW, CONFIG) is None
    with pytest.raises(SignInRefused):
        sign_in(db, "ana", PASSWORD, NOW, CONFIG)
    assert sign_in(db, "ana", "a brand new passphrase", NOW, CONFIG).creator_id == "ana"
    with pytest.raises(UnknownAccountError, match="create-creator"):
        set_password(db, "nobody", "a brand new passphrase", NOW)


def test_expired_sessions_are_purged(db: Database) -> None:
    create_account(db, "ana", "Ana", PASSWORD, NOW)
    sign_in(db, "ana", PASSWORD, NOW, CONFIG)
    assert purge_expired_sessions(db, NOW, CONFIG) == 0
    assert purge_expired_sessions(db, NOW + timedelta(seconds=CONFIG.session_idle_s), CONFIG) == 1


def test_cross_site_requests_are_recognised() -> None:
    host = {"host": "console.example:8000"}
    assert not cross_site(host)
    assert not cross_site({**host, "origin": "http://console.example:8000"})
    assert not cross_site({**host, "sec-fetch-site": "same-origin"})
    assert cross_site({**host, "origin": "https://evil.example"})
    assert cross_site({**host, "origin": "null"})
    assert cross_site({**host, "sec-fetch-site": "cross-site"})
    assert cookie_value({"cookie": "a=1; persona_console=tok"}, "persona_console") == "tok"
    assert cookie_value({"cookie": "broken;;=="}, "persona_console") is None


def test_the_migration_matches_the_models_and_downgrades(db: Database) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect

    from channels.migrate import alembic_config
    from persona.store.models import Base

    assert {"console_users", "console_sessions", "console_imports", "console_flags"} <= set(
        Base.metadata.tables
    )
    with db.engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in diffs if "console_" in repr(d)] == []
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005_console-1")
    tables = set(inspect(db.engine).get_table_names())
    assert not {t for t in tables if t.startswith("console_")}
    assert "creators" in tables


async def test_the_middleware_trusts_a_session_only_where_no_forgery_is_possible(
    db: Database,
) -> None:
    """What the session middleware puts in the request state, per kind of request."""
    from types import SimpleNamespace

    from channels.console.middleware import ConsoleSessionMiddleware

    create_account(db, "ana", "Ana", PASSWORD, NOW)
    signed = sign_in(db, "ana", PASSWORD, datetime.now(UTC), AuthConfig())
    seen: list[dict] = []

    async def app(scope, receive, send) -> None:  # noqa: ANN001
        seen.append(dict(scope.get("state", {})))

    middleware = ConsoleSessionMiddleware(app, AuthConfig())
    owner = SimpleNamespace(state=SimpleNamespace(services=SimpleNamespace(db=db)))

    async def state_of(kind: str, method: str, path: str, **headers: str) -> dict:
        raw = {"host": "console.test", "cookie": f"persona_console={signed.token}", **headers}
        scope = {
            "type": kind,
            "method": method,
            "path": path,
            "app": owner,
            "headers": [(k.encode(), v.encode()) for k, v in raw.items()],
        }
        await middleware(scope, None, None)
        return seen[-1]

    assert (await state_of("http", "GET", "/api/creators/ana/profile"))["creator_id"] == "ana"
    unsafe = await state_of("http", "POST", "/api/creators/ana/pause")
    assert "creator_id" not in unsafe and unsafe["console_session"].creator_id == "ana"
    with_token = await state_of(
        "http", "POST", "/api/creators/ana/pause", **{"x-csrf-token": signed.csrf_token}
    )
    assert with_token["creator_id"] == "ana"
    cross = await state_of(
        "http",
        "POST",
        "/api/x",
        origin="https://evil.example",
        **{"x-csrf-token": signed.csrf_token},
    )
    assert cross == {}
    assert (
        await state_of("websocket", "GET", "/ws/creators/ana/replies", origin="http://console.test")
    )["creator_id"] == "ana"
    # A websocket from another site, or one that does not say where it comes from: no session.
    assert await state_of("websocket", "GET", "/ws/x", origin="https://evil.example") == {}
    assert await state_of("websocket", "GET", "/ws/x") == {}
    # Paths outside the console and the API do not read the session at all.
    assert await state_of("http", "GET", "/space/ana") == {}
    assert await state_of("http", "GET", "/console/static/console.css") == {}
