"""Web sessions, CSRF tokens and login rate limiting of the review app.

- A session is a random 256-bit token in an HttpOnly, SameSite=Strict cookie; the database
  keeps only its sha256, so a leaked database copy opens no session. Each session has its
  own CSRF token, which every state-changing request must echo (form field or header).
- Logging in checks a double-submit token too (a cookie set with the login form), so
  another site cannot log a browser into an account of its choosing.
- Failed logins are counted per (name, client address) and per address: past the limit a
  login is refused for a minute, before the password is even checked.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select

from review.db import LoginAttempt, ReviewDB, User, WebSession, utcnow
from review.runs import ReviewError
from review.users import authenticate

log = logging.getLogger(__name__)

SESSION_COOKIE = "kho_review_session"
LOGIN_CSRF_COOKIE = "kho_review_login"
RATE_WINDOW = timedelta(minutes=1)
#: Failed logins one address may make across all names, as a multiple of the per-name limit.
ADDRESS_FACTOR = 4


class LoginRateLimited(ReviewError):
    """Too many failed logins from this address (for this name): wait, then try again."""


@dataclass(frozen=True)
class SessionInfo:
    """The logged-in user of a request and the CSRF token of their session."""

    user_id: int
    name: str
    role: str
    csrf_token: str

    @property
    def is_lead(self) -> bool:
        return self.role == "lead"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A random URL-safe token (256 bits)."""
    return secrets.token_urlsafe(32)


def tokens_match(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of two tokens; a missing one never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def _failures(db: ReviewDB, name: str, ip: str) -> tuple[int, int]:
    since = utcnow() - RATE_WINDOW
    with db.session() as s:
        by_name = s.scalar(select(func.count(LoginAttempt.id)).where(
            LoginAttempt.name == name, LoginAttempt.ip == ip, LoginAttempt.ok.is_(False),
            LoginAttempt.at >= since)) or 0
        by_ip = s.scalar(select(func.count(LoginAttempt.id)).where(
            LoginAttempt.ip == ip, LoginAttempt.ok.is_(False), LoginAttempt.at >= since)) or 0
    return by_name, by_ip


def check_rate(db: ReviewDB, name: str, ip: str, limit: int) -> None:
    """Raise LoginRateLimited when ``name`` from ``ip`` (or ``ip`` overall) failed too often
    in the last minute."""
    by_name, by_ip = _failures(db, name, ip)
    if by_name >= limit or by_ip >= limit * ADDRESS_FACTOR:
        raise LoginRateLimited("too many failed logins: wait a minute, then try again "
                               "(a lead can reset a forgotten password with `kho review users passwd`)")


def login(db: ReviewDB, name: str, password: str, ip: str, limit: int,
          ttl_s: int) -> tuple[str, SessionInfo] | None:
    """Check the rate limit and the password; on success open a session and return its cookie
    token and info, else record the failure and return None."""
    check_rate(db, name, ip, limit)
    user = authenticate(db, name, password)
    with db.session() as s:
        s.add(LoginAttempt(name=name[:64], ip=ip[:64], ok=user is not None))
        s.execute(delete(LoginAttempt).where(LoginAttempt.at < utcnow() - 10 * RATE_WINDOW))
    if user is None:
        log.info("review login refused for %r from %s", name[:64], ip)
        return None
    token, csrf = new_token(), new_token()
    with db.session() as s:
        s.execute(delete(WebSession).where(WebSession.expires_at < utcnow()))
        s.add(WebSession(token_sha256=_digest(token), user_id=user.id, csrf_token=csrf,
                         expires_at=utcnow() + timedelta(seconds=ttl_s)))
    log.info("review login: %s (%s) from %s", user.name, user.role, ip)
    return token, SessionInfo(user.id, user.name, user.role, csrf)


def session_info(db: ReviewDB, token: str | None) -> SessionInfo | None:
    """The session a cookie token opens: None when absent, unknown, expired or its user is
    deactivated."""
    if not token or len(token) > 256:
        return None
    with db.session() as s:
        row = s.execute(select(WebSession, User).join(User, User.id == WebSession.user_id)
                        .where(WebSession.token_sha256 == _digest(token))).first()
        if row is None:
            return None
        session, user = row
        if session.expires_at < utcnow() or not user.active:
            s.delete(session)
            return None
        return SessionInfo(user.id, user.name, user.role, session.csrf_token)


def logout(db: ReviewDB, token: str | None) -> None:
    """End the session of a cookie token (no error if there is none)."""
    if token:
        with db.session() as s:
            s.execute(delete(WebSession).where(WebSession.token_sha256 == _digest(token)))


__all__ = ["LOGIN_CSRF_COOKIE", "LoginRateLimited", "SESSION_COOKIE", "SessionInfo", "check_rate", "login",
           "logout", "new_token", "session_info", "tokens_match"]
