"""Creator accounts and console sessions: argon2id passwords, server-side sessions in the
database (revocable: signing out or changing the password ends them), CSRF tokens, and
limits on guessing passwords.

Guessing is limited without handing strangers a way to lock the creator out:
- per account and client address (an IPv6 /64): after `max_failed_logins` attempts without
  success, that address is refused for `lockout_s`. Attempts are counted atomically in the
  database *before* the password is checked, so parallel guesses cannot slip past the count;
  other addresses, the creator's among them, are not affected;
- per account, from all addresses: after `account_backoff_after` failures in a row, each
  further failure makes the account wait a short time that doubles, capped at
  `account_backoff_max_s`. This slows a guesser spread over many addresses; as the wait is
  short and one address makes at most `max_failed_logins` failures per `lockout_s`, it
  cannot keep the creator out for long;
- argon2id is memory-hard (64 MiB a check): at most `max_concurrent_hashes` checks run at
  once per process; a sign-in that finds no free slot within `hash_wait_s` is refused with
  `SignInBusy` (the route answers 503 with Retry-After) and is not counted.

Synchronous database work: call these from a worker thread in async code.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, case, delete, or_, update
from sqlalchemy.dialects import postgresql, sqlite

from channels.console.models import ConsoleLoginFailure, ConsoleSession, ConsoleUser
from persona.store import Creator, Database

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024


@dataclass(frozen=True, slots=True)
class AuthConfig:
    # A session ends after this long without a request, and after `session_max_s` in any case.
    session_idle_s: int = 12 * 3600
    session_max_s: int = 7 * 86_400
    # Per account and client address: attempts without success, then how long it waits.
    max_failed_logins: int = 5
    lockout_s: int = 15 * 60
    # Per account, all addresses: failures in a row before a doubling wait, and its cap.
    account_backoff_after: int = 20
    account_backoff_max_s: int = 60
    # argon2id checks at once in this process, and how long a sign-in waits for one.
    max_concurrent_hashes: int = 2
    hash_wait_s: float = 1.0
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


class SignInBusy(Exception):
    """Every password-hashing slot is taken: try again in a moment (not counted)."""

    retry_after_s = 2


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


@cache
def _hash_slots(count: int) -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(count)


@contextmanager
def hashing_slot(config: AuthConfig) -> Iterator[None]:
    """Hold one of the process's password-hashing slots, or raise SignInBusy."""
    slots = _hash_slots(config.max_concurrent_hashes)
    if not slots.acquire(timeout=config.hash_wait_s):
        raise SignInBusy("the server is busy checking passwords: try again in a moment")
    try:
        yield
    finally:
        slots.release()


def client_key(host: str | None) -> str:
    """Who is signing in, for the per-address lock: the IP address, IPv6 by its /64 (one
    subscriber's block: changing the last 64 bits must not give fresh attempts)."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


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
        session.execute(
            delete(ConsoleLoginFailure).where(ConsoleLoginFailure.creator_id == creator_id)
        )
        ended = session.execute(
            delete(ConsoleSession).where(ConsoleSession.creator_id == creator_id)
        )
        return ended.rowcount or 0


# -- signing in and out ----------------------------------------------------------------------

_REFUSED = "wrong creator id or password"


def sign_in(
    db: Database,
    creator_id: str,
    password: str,
    now: datetime,
    config: AuthConfig,
    client: str = "unknown",
) -> SignedIn:
    """Check the password and open a session. `client` is `client_key(address)`. Raises
    SignInRefused (wrong, or locked for this address or for a moment on the account) or
    SignInBusy (no hashing slot free: nothing was counted)."""
    with db.session() as session:
        user = session.get(ConsoleUser, creator_id)
        stored_hash = user.password_hash if user is not None else None
        account_wait = user.locked_until if user is not None else None
    with hashing_slot(config):
        if stored_hash is None:
            # Spend the same time as a real check: response times do not reveal accounts.
            verify_password(_dummy_hash(), password)
            raise SignInRefused(_REFUSED)
        if account_wait is not None and account_wait > now:
            seconds = max(1, int((account_wait - now).total_seconds() + 0.999))
            raise SignInRefused(
                f"too many failed sign-ins on this account: try again in {seconds} seconds",
                account_wait,
            )
        attempt, locked_until = _count_attempt(db, creator_id, client, now, config)
        if locked_until is None and attempt > config.max_failed_logins:
            # Parallel guesses past the allowance: refused unchecked, and the address locks.
            locked_until = _lock_client(db, creator_id, client, now, config)
        if locked_until is not None:
            raise SignInRefused(
                "too many failed sign-ins: this account is locked for your address for a few "
                "minutes (an admin can unlock it with `persona admin set-password`)",
                locked_until,
            )
        if not verify_password(stored_hash, password):
            if attempt >= config.max_failed_logins:
                _lock_client(db, creator_id, client, now, config)
            _account_failed(db, creator_id, now, config)
            raise SignInRefused(_REFUSED)
        return _open_session(db, creator_id, password, client, now, config)


def _upsert(db: Database) -> Any:
    # INSERT ... ON CONFLICT DO UPDATE ... RETURNING: one atomic statement on both backends.
    return postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert


def _count_attempt(
    db: Database, creator_id: str, client: str, now: datetime, config: AuthConfig
) -> tuple[int, datetime | None]:
    """Count one attempt from `client` (before the password is checked); returns its number
    since the last success and the address's lock, if one is running. An ended lock, or
    attempts older than `lockout_s`, start the count again."""
    table = ConsoleLoginFailure.__table__
    c = table.c
    restart = or_(
        c.locked_until <= now,
        and_(c.locked_until.is_(None), c.updated_at <= now - timedelta(seconds=config.lockout_s)),
    )
    statement = (
        _upsert(db)(table)
        .values(creator_id=creator_id, client=client, failures=1, updated_at=now)
        .on_conflict_do_update(
            index_elements=[c.creator_id, c.client],
            set_={
                "failures": case((restart, 1), else_=c.failures + 1),
                "locked_until": case((restart, None), else_=c.locked_until),
                "updated_at": now,
            },
        )
        .returning(c.failures, c.locked_until)
    )
    with db.session() as session:
        attempt, locked_until = session.execute(statement).one()
    return int(attempt), locked_until if locked_until is not None and locked_until > now else None


def _lock_client(
    db: Database, creator_id: str, client: str, now: datetime, config: AuthConfig
) -> datetime:
    until = now + timedelta(seconds=config.lockout_s)
    row = ConsoleLoginFailure
    with db.session() as session:
        # A running lock is not extended: waiting it out always works.
        session.execute(
            update(row)
            .where(
                row.creator_id == creator_id,
                row.client == client,
                or_(row.locked_until.is_(None), row.locked_until <= now),
            )
            .values(locked_until=until)
        )
    return until


def _account_failed(db: Database, creator_id: str, now: datetime, config: AuthConfig) -> None:
    """One more failure on the account, from any address (atomic: `failed_logins + 1` in the
    database, never read-modify-write); past the threshold, a short doubling wait."""
    user = ConsoleUser
    with db.session() as session:
        failures = session.execute(
            update(user)
            .where(user.creator_id == creator_id)
            .values(failed_logins=user.failed_logins + 1)
            .returning(user.failed_logins)
        ).scalar_one()
        if failures >= config.account_backoff_after:
            exponent = min(failures - config.account_backoff_after, 16)
            wait = min(2**exponent, config.account_backoff_max_s)
            session.execute(
                update(user)
                .where(user.creator_id == creator_id)
                .values(locked_until=now + timedelta(seconds=wait))
            )
        # Housekeeping: addresses that gave up long ago are forgotten.
        stale = now - timedelta(seconds=config.lockout_s)
        session.execute(
            delete(ConsoleLoginFailure).where(
                ConsoleLoginFailure.creator_id == creator_id,
                ConsoleLoginFailure.updated_at <= stale,
                or_(
                    ConsoleLoginFailure.locked_until.is_(None),
                    ConsoleLoginFailure.locked_until <= now,
                ),
            )
        )


def _open_session(
    db: Database, creator_id: str, password: str, client: str, now: datetime, config: AuthConfig
) -> SignedIn:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with db.session() as session:
        user = session.get(ConsoleUser, creator_id)
        if user is None:
            raise SignInRefused(_REFUSED)  # deleted meanwhile
        if _hasher().check_needs_rehash(user.password_hash):
            user.password_hash = _hasher().hash(password)
        user.failed_logins = 0
        user.locked_until = None
        user.last_login_at = now
        session.execute(
            delete(ConsoleLoginFailure).where(
                ConsoleLoginFailure.creator_id == creator_id, ConsoleLoginFailure.client == client
            )
        )
        # Housekeeping: this creator's ended sessions go.
        session.execute(
            delete(ConsoleSession).where(
                ConsoleSession.creator_id == creator_id,
                (ConsoleSession.expires_at <= now)
                | (ConsoleSession.created_at <= now - timedelta(seconds=config.session_max_s)),
            )
        )
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
