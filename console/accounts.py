"""The console's people and their logins: ``console_users`` and ``console_sessions``.

Passwords are hashed with argon2id through pwdlib (its recommended parameters; a hash names them, so a
later change of parameters still verifies old hashes). A login is a server-side session: the browser holds
a random token (32 bytes, URL-safe) in an HttpOnly cookie, the database holds only its SHA-256, so a leaked
table logs nobody in; a session expires ``session_ttl_s`` after it was made, and logging out deletes it.
Each session has its own CSRF token, which every form of the console sends back.

The methods are synchronous (SQLAlchemy's engine); the web handlers run them in a thread.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pwdlib import PasswordHash
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from botkit.db.schema import console_sessions, console_users
from botkit.desk.records import Clock, utc_now

Role = Literal["agent", "admin"]
ROLES: tuple[Role, ...] = ("agent", "admin")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MIN_PASSWORD = 8

_HASHER = PasswordHash.recommended()
# Verified against for unknown names, so that "no such user" takes as long as "wrong password".
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A user cannot be added or changed; the message says why, for the admin who tried."""


@dataclass(frozen=True)
class ConsoleUser:
    """A person who may log in to the console."""

    id: int
    name: str
    role: Role
    disabled: bool
    created_at: datetime

    @property
    def is_admin(self) -> bool:
        """Whether the user may manage users, the knowledge base and settings."""
        return self.role == "admin"


@dataclass(frozen=True)
class Login:
    """A live session: who, and the CSRF token their forms must carry."""

    user: ConsoleUser
    csrf_token: str
    expires_at: datetime


def _user(row: Any) -> ConsoleUser:
    return ConsoleUser(int(row.id), row.name, row.role, bool(row.disabled), row.created_at)


def token_hash(token: str) -> str:
    """The SHA-256 (hex) a session token is stored as."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_new_user(name: str, password: str, role: str) -> None:
    """Raise :class:`AccountError` when the name, the password or the role is not acceptable."""
    if not NAME.match(name):
        raise AccountError(
            f"user name {name!r} is not allowed: 1-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    check_role(role)
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password is too short: at least {MIN_PASSWORD} characters")


def check_role(role: str) -> Role:
    """``role`` if it is ``agent`` or ``admin``; else :class:`AccountError`."""
    for known in ROLES:
        if role == known:
            return known
    raise AccountError(f"role {role!r} is not one of: {', '.join(ROLES)}")


class Accounts:
    """Users and sessions in the database of ``engine``.

    Args:
        engine: the bot's database (schema in place).
        session_ttl_s: how long a login lasts.
        clock: what "now" is (aware UTC).
    """

    def __init__(self, engine: Engine, *, session_ttl_s: int = 8 * 3600, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.session_ttl = timedelta(seconds=session_ttl_s)
        self.clock = clock

    # -- users ------------------------------------------------------------------------------------
    def add_user(self, name: str, password: str, role: str) -> ConsoleUser:
        """Add a user. Raises :class:`AccountError` (bad name, short password, unknown role, name taken)."""
        check_new_user(name, password, role)
        values = {
            "name": name,
            "password_hash": _HASHER.hash(password),
            "role": role,
            "disabled": False,
            "created_at": self.clock(),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(console_users).values(**values))
        except IntegrityError:
            raise AccountError(f"there is already a user named {name!r}") from None
        found = self.user(name)
        assert found is not None
        return found

    def user(self, name: str) -> ConsoleUser | None:
        """The user called ``name``, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(select(console_users).where(console_users.c.name == name)).first()
        return _user(row) if row is not None else None

    def users(self) -> list[ConsoleUser]:
        """Every user, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(console_users).order_by(console_users.c.name)).all()
        return [_user(row) for row in rows]

    def set_role(self, name: str, role: str) -> ConsoleUser:
        """Change a user's role. Raises :class:`AccountError` (unknown role or user)."""
        self._change(name, role=check_role(role))
        return self._require(name)

    def set_disabled(self, name: str, disabled: bool) -> ConsoleUser:
        """Disable (their sessions end at once) or enable a user. Raises :class:`AccountError`."""
        user = self._change(name, disabled=disabled)
        if disabled:
            with self.engine.begin() as conn:
                conn.execute(delete(console_sessions).where(console_sessions.c.user_id == user.id))
        return self._require(name)

    def authenticate(self, name: str, password: str) -> ConsoleUser | None:
        """The user if ``password`` is theirs and they are not disabled; else None (same time either way)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(console_users).where(console_users.c.name == name)).first()
        stored = row.password_hash if row is not None else _DUMMY_HASH
        try:
            good = _HASHER.verify(password, stored)
        except Exception:  # a corrupt stored hash is a failed login, not a server error
            good = False
        if row is None or not good or row.disabled:
            return None
        return _user(row)

    def _change(self, name: str, **values: object) -> ConsoleUser:
        user = self._require(name)
        with self.engine.begin() as conn:
            conn.execute(update(console_users).where(console_users.c.id == user.id).values(**values))
        return user

    def _require(self, name: str) -> ConsoleUser:
        found = self.user(name)
        if found is None:
            raise AccountError(f"there is no user named {name!r}")
        return found

    # -- sessions ---------------------------------------------------------------------------------
    def open_session(self, user: ConsoleUser) -> tuple[str, Login]:
        """A new session for ``user``: the cookie's token (kept nowhere else) and the login."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self.clock()
        expires = now + self.session_ttl
        with self.engine.begin() as conn:
            # Expired sessions are swept here, at the moment a new one is made, rather than by a timer.
            conn.execute(delete(console_sessions).where(console_sessions.c.expires_at < now))
            conn.execute(
                insert(console_sessions).values(
                    token_hash=token_hash(token),
                    user_id=user.id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=expires,
                )
            )
        return token, Login(user, csrf, expires)

    def session(self, token: str | None) -> Login | None:
        """The live login whose cookie token is ``token``; None when unknown, expired or its user disabled."""
        if not token or len(token) > 128:
            return None
        query = (
            select(
                console_sessions.c.csrf_token,
                console_sessions.c.expires_at,
                console_users.c.id,
                console_users.c.name,
                console_users.c.role,
                console_users.c.disabled,
                console_users.c.created_at,
            )
            .select_from(console_sessions)
            .join(console_users, console_users.c.id == console_sessions.c.user_id)
            .where(console_sessions.c.token_hash == token_hash(token))
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        if row.expires_at <= self.clock() or row.disabled:
            self.close_session(token)
            return None
        return Login(_user(row), row.csrf_token, row.expires_at)

    def close_session(self, token: str) -> None:
        """Forget the session (log out)."""
        with self.engine.begin() as conn:
            conn.execute(delete(console_sessions).where(console_sessions.c.token_hash == token_hash(token)))
