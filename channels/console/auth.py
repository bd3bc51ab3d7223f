"""Creator accounts and console sessions: argon2id passwords, server-side sessions in the
database (revocable: signing out or changing the password ends them), CSRF tokens, and a
lock after repeated failed sign-ins.

Synchronous database work: call these from a worker thread in async code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete

from channels.console.models import ConsoleSession, ConsoleUser
from persona.store import Creator, Database

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024


@dataclass(frozen=True, slots=True)
class AuthConfig:
    # A session ends after this long without a request, and after `session_max_s` in any case.
    session_idle_s: int = 12 * 3600
    session_max_s: int = 7 * 86_400
    max_failed_logins: int = 5
    lockout_s: int = 15 * 60
    # The session's expiry is pushed forward at most once per this many seconds (one write).
    touch_every_s: int = 60


class PasswordPolicyError(ValueError):
    pass


class AccountExistsError(ValueError):
    pass


class UnknownAccountError(LookupError):
    pass


class SignInRefused(Exception):
    """Wrong id or password, or a locked account. The message is safe to show."""

    def __init__(self, message: str, locked_until: datetime | None = None) -> None:
        super().__init__(message)
        self.locked_until = locked_until


@dataclass(frozen=True, slots=True)
class SignedIn:
    creator_id: str
    token: str  # goes into the cookie; only its hash is stored
    csrf_token: str


@dataclass(frozen=True, slots=True)
class SessionInfo:
    creator_id: str
    csrf_token: str
    token_sha256: str
    expires_at: datetime
    # Used again after a while: its idle expiry should move forward (`touch_session`).
    needs_touch: bool = False


# -- passwords -------------------------------------------------------------------------------


@cache
def _hasher() -> PasswordHasher:
    # argon2id with the library's defaults (RFC 9106 "low memory": 64 MiB, 3 passes).
    return PasswordHasher()


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise PasswordPolicyError(
            f"the password has {len(password)} characters; use at least {MIN_PASSWORD_CHARS} "
            "(a few unrelated words make a strong one)"
        )
    if len(password) > MAX_PASSWORD_CHARS:
        raise PasswordPolicyError(f"the password is longer than {MAX_PASSWORD_CHARS} characters")
    if not password.strip():
        raise PasswordPolicyError("the password is only spaces")


def hash_password(password: str) -> str:
    check_password_policy(password)
    return _hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def token_sha256(token: str) -> str:
    # Session tokens are 256-bit random strings: a plain SHA-256 is enough to store them.
    return hashlib.sha256(token.encode()).hexdigest()


# -- accounts (the admin CLI) ----------------------------------------------------------------


def create_account(
    db: Database, creator_id: str, display_name: str | None, password: str, now: datetime
) -> bool:
    """Give a creator a console account; creates the creator when they do not exist yet.
    Returns True when the creator was created too."""
    password_hash = hash_password(password)
    with db.session() as session:
        if session.get(ConsoleUser, creator_id) is not None:
            raise AccountExistsError(
                f"{creator_id!r} already has a console account; to change its password run "
                f"`persona admin set-password {creator_id} --password-stdin`"
            )
        creator = session.get(Creator, creator_id)
        created = creator is None
        if creator is None:
            session.add(
                Creator(id=creator_id, display_name=display_name or creator_id, settings={})
            )
            session.flush()
        elif display_name:
            creator.display_name = display_name
        session.add(
            ConsoleUser(
                creator_id=creator_id,
                password_hash=password_hash,
                created_at=now,
                password_changed_at=now,
                failed_logins=0,
            )
        )
    return created


def set_password(db: Database, creator_id: str, password: str, now: datetime) -> int:
    """Replace the password, unlock the account and end every session (a stolen session
    does not survive a password change). Returns how many sessions were ended."""
    password_hash = hash_password(password)
    with db.session() as session:
        user = session.get(ConsoleUser, creator_id)
        if user is None:
            raise UnknownAccountError(
                f"{creator_id!r} has no console account; create one with "
                f"`persona admin create-creator {creator_id} --name NAME --password-stdin`"
            )
        user.password_hash = password_hash
        user.password_changed_at = now
        user.failed_logins = 0
        user.locked_until = None
        ended = session.execute(
            delete(ConsoleSession).where(ConsoleSession.creator_id == creator_id)
        )
        return ended.rowcount or 0


# -- signing in and out ----------------------------------------------------------------------

_REFUSED = "wrong creator id or password"


def sign_in(
    db: Database, creator_id: str, password: str, now: datetime, config: AuthConfig
) -> SignedIn:
    """Check the password and open a session. Failures are counted per account; after
    `max_failed_logins` in a row the account refuses every attempt for `lockout_s`."""
    refusal: SignInRefused | None = None
    # Refusals are raised after the block: raising inside it would roll back the count.
    with db.session() as session:
        user = session.get(ConsoleUser, creator_id)
        if user is None:
            # Spend the same time as a real check: response times do not reveal accounts.
            verify_password(_dummy_hash(), password)
            raise SignInRefused(_REFUSED)
        if user.locked_until is not None and user.locked_until > now:
            raise SignInRefused(
                "too many failed sign-ins: this account is locked for a few minutes "
                "(an admin can unlock it with `persona admin set-password`)",
                user.locked_until,
            )
        if not verify_password(user.password_hash, password):
            user.failed_logins += 1
            if user.failed_logins >= config.max_failed_logins:
                user.failed_logins = 0
                user.locked_until = now + timedelta(seconds=config.lockout_s)
            refusal = SignInRefused(_REFUSED)
        else:
            if _hasher().check_needs_rehash(user.password_hash):
                user.password_hash = _hasher().hash(password)
            user.failed_logins = 0
            user.locked_until = None
            user.last_login_at = now
            # Housekeeping: this creator's ended sessions go.
            session.execute(
                delete(ConsoleSession).where(
                    ConsoleSession.creator_id == creator_id,
                    (ConsoleSession.expires_at <= now)
                    | (ConsoleSession.created_at <= now - timedelta(seconds=config.session_max_s)),
                )
            )
            token = secrets.token_urlsafe(32)
            csrf = secrets.token_urlsafe(32)
            session.add(
                ConsoleSession(
                    token_sha256=token_sha256(token),
                    creator_id=creator_id,
                    csrf_token=csrf,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + timedelta(seconds=config.session_idle_s),
                )
            )
    if refusal is not None:
        raise refusal
    return SignedIn(creator_id, token, csrf)


def load_session(db: Database, token: str, now: datetime, config: AuthConfig) -> SessionInfo | None:
    """The live session of a cookie; None when unknown, idle for too long, or past its
    absolute lifetime. A read only: on SQLite a write could wait behind a long import, so
    pushing the idle expiry forward is `touch_session`'s job, off the request's path."""
    if not token or len(token) > 200:
        return None
    key = token_sha256(token)
    with db.session() as session:
        row = session.get(ConsoleSession, key)
        if row is None:
            return None
        if row.expires_at <= now or row.created_at + timedelta(seconds=config.session_max_s) <= now:
            return None
        stale = (now - row.last_seen_at).total_seconds() >= config.touch_every_s
        return SessionInfo(row.creator_id, row.csrf_token, key, row.expires_at, stale)


def touch_session(db: Database, token_hash: str, now: datetime, config: AuthConfig) -> None:
    """Push a used session's idle expiry forward (never past its absolute lifetime)."""
    with db.session() as session:
        row = session.get(ConsoleSession, token_hash)
        if row is not None and row.expires_at > now:
            row.last_seen_at = now
            row.expires_at = min(
                now + timedelta(seconds=config.session_idle_s),
                row.created_at + timedelta(seconds=config.session_max_s),
            )


def sign_out(db: Database, token_hash: str) -> None:
    with db.session() as session:
        session.execute(delete(ConsoleSession).where(ConsoleSession.token_sha256 == token_hash))


def purge_expired_sessions(db: Database, now: datetime, config: AuthConfig) -> int:
    """Delete sessions past their idle expiry or their absolute lifetime."""
    oldest = now - timedelta(seconds=config.session_max_s)
    with db.session() as session:
        result = session.execute(
            delete(ConsoleSession).where(
                (ConsoleSession.expires_at <= now) | (ConsoleSession.created_at <= oldest)
            )
        )
        return result.rowcount or 0


def same_token(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())
