"""Review users: argon2id password hashes, adding users, resetting passwords, deactivating.

Passwords are only ever stored as argon2id hashes (argon2-cffi's defaults). Deactivating a
user keeps their judgements (the figures need them) but ends their sessions and logins.
"""

from __future__ import annotations

import logging
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from review.db import ROLES, ReviewDB, User, WebSession
from review.runs import ReviewError

log = logging.getLogger(__name__)

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024  # argon2 hashes anything, but a megabyte "password" is an attack
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("kho-review-dummy-password")


class UserError(ReviewError, ValueError):
    """A user name, role or password is not acceptable; the message says what to change."""


class UserExistsError(UserError):
    """A user of that name exists already."""


class UserNotFoundError(ReviewError, LookupError):
    """No user has that name."""


def check_password_policy(password: str) -> str:
    """Return ``password`` if it is long enough (and not absurdly long), else raise UserError."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"the password must have at least {MIN_PASSWORD_CHARS} characters; "
                        "a passphrase of several words is best")
    if len(password) > MAX_PASSWORD_CHARS:
        raise UserError(f"the password must have at most {MAX_PASSWORD_CHARS} characters")
    return password


def hash_password(password: str) -> str:
    """The argon2id hash of a password that meets the policy (the only form ever stored)."""
    return _hasher.hash(check_password_policy(password))


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (argon2's argument order: hash first).

    A malformed hash or an over-long password is a mismatch, never an exception."""
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_CHARS:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise UserError(f"invalid user name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-', "
                        "starting with a letter or digit")
    return name


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"invalid role {role!r}: use one of {', '.join(ROLES)}")
    return role


def add_user(db: ReviewDB, name: str, role: str, password: str) -> User:
    """Create an active user; raises UserExistsError if the name is taken."""
    user = User(name=_check_name(name), role=_check_role(role), password_hash=hash_password(password),
                active=True)
    try:
        with db.session() as s:
            s.add(user)
    except IntegrityError:
        raise UserExistsError(f"user {name!r} exists already: use set_password or pick another name") from None
    log.info("review user %s added (%s)", name, role)
    return user


def get_user(db: ReviewDB, name: str) -> User:
    """The user of that name; raises UserNotFoundError."""
    with db.session() as s:
        user = s.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserNotFoundError(f"no review user {name!r}: add one with `kho review users add {name} --role ...`")
    return user


def list_users(db: ReviewDB) -> list[User]:
    """Every user, by name."""
    with db.session() as s:
        return list(s.scalars(select(User).order_by(User.name)))


def _change(db: ReviewDB, name: str, **values: object) -> None:
    """Set ``values`` on the user ``name`` and end their sessions; raises UserNotFoundError."""
    with db.session() as s:
        user = s.scalar(select(User).where(User.name == name))
        if user is None:
            raise UserNotFoundError(f"no review user {name!r}")
        for attr, value in values.items():
            setattr(user, attr, value)
        s.execute(delete(WebSession).where(WebSession.user_id == user.id))


def set_password(db: ReviewDB, name: str, password: str) -> None:
    """Replace a user's password and end their sessions (a reset logs them out everywhere)."""
    _change(db, name, password_hash=hash_password(password))
    log.info("review user %s: password replaced, sessions ended", name)


def deactivate(db: ReviewDB, name: str) -> None:
    """Refuse a user's logins from now on and end their sessions; judgements stay."""
    _change(db, name, active=False)
    log.info("review user %s deactivated", name)


def authenticate(db: ReviewDB, name: str, password: str) -> User | None:
    """The active user whose name and password match, else None.

    An unknown name costs one hash verification too, so timing does not tell which names
    exist. A hash made with weaker parameters than today's is upgraded on success."""
    with db.session() as s:
        user = s.scalar(select(User).where(User.name == name))
        if user is None:
            verify_password(_DUMMY_HASH, password)
            return None
        if not verify_password(user.password_hash, password) or not user.active:
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
    return user


__all__ = ["UserError", "UserExistsError", "UserNotFoundError", "add_user", "authenticate",
           "check_password_policy", "deactivate", "get_user", "hash_password", "list_users", "set_password",
           "verify_password"]
