"""The review database: users, web sessions, queues, items, assignments and judgements.

SQLAlchemy 2 declarative models on any SQLAlchemy URL: a SQLite file next to the store by
default (:func:`default_db_url`), PostgreSQL by URL (``postgresql+psycopg://user@host/db``;
the driver is not a Kho dependency: install ``psycopg[binary]`` where you use it).

Times are stored as UTC and always come back timezone-aware (SQLite keeps no zone).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
                        create_engine, event)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from review.runs import ReviewError

log = logging.getLogger(__name__)

ROLES = ("annotator", "lead")
#: Judgement labels: the pipeline's decision was correct, wrong, or the annotator is unsure.
LABELS = {1: "correct", 2: "wrong", 3: "unsure"}
DB_FILE = "review.sqlite"
S3_DB_FILE = "kho-review.sqlite"


class DatabaseConfigError(ReviewError):
    """The database URL is malformed or its driver is not installed."""


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (what every timestamp column holds)."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timestamp stored as naive UTC and read back as aware UTC, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the review database: pass an aware UTC time")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=timezone.utc) if value is not None else None


class Base(DeclarativeBase):
    """Declarative base of the review tables."""


class User(Base):
    """An annotator or a lead; ``active=False`` keeps their judgements but refuses logins."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def is_lead(self) -> bool:
        return self.role == "lead"


class WebSession(Base):
    """A logged-in browser: only the sha256 of its cookie token is stored."""

    __tablename__ = "web_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class LoginAttempt(Base):
    """One login try, for rate limiting per name and address."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_name_ip_at", "name", "ip", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean)


class Queue(Base):
    """A drawn queue of one run: its name (``kept``, ``reason:<rule>``, ...) and draw settings."""

    __tablename__ = "queues"
    __table_args__ = (UniqueConstraint("run_id", "name", "seed", name="uq_queues_run_name_seed"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    dataset: Mapped[str] = mapped_column(String(128))
    modality: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(256))
    seed: Mapped[int] = mapped_column(Integer)
    per_queue: Mapped[int] = mapped_column(Integer)
    double_share: Mapped[float] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Item(Base):
    """One item of a queue; ``payload`` is the ReviewItem as JSON (fields, media, pair)."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("queue_id", "position", name="uq_items_queue_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    item_key: Mapped[str] = mapped_column(String(24), index=True)
    record_id: Mapped[str] = mapped_column(String(64), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)

    queue: Mapped[Queue] = relationship()


class Assignment(Base):
    """Which annotator must judge which item (two for doubly annotated items)."""

    __tablename__ = "assignments"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
                                         index=True)


class Judgement(Base):
    """A user's label of an item: 1 correct decision, 2 wrong decision, 3 unsure."""

    __tablename__ = "judgements"
    __table_args__ = (UniqueConstraint("item_id", "user_id", name="uq_judgements_item_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()
    item: Mapped[Item] = relationship()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """Foreign keys on; WAL and a busy timeout so the web app's threads wait, not fail."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.close()


def _make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseConfigError(f"invalid review database URL: {exc}; use sqlite:///PATH or "
                                  "postgresql+psycopg://USER@HOST/DB") from None
    kw: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        kw["connect_args"] = {"check_same_thread": False}
        if parsed.database in (None, "", ":memory:"):
            kw["poolclass"] = StaticPool
        else:
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(parsed, **kw)
    except ModuleNotFoundError as exc:
        raise DatabaseConfigError(
            f"the database driver for {parsed.drivername} is not installed ({exc.name}); for "
            "PostgreSQL: pip install 'psycopg[binary]' and use a postgresql+psycopg:// URL") from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class ReviewDB:
    """The review database at one SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"ReviewDB({self.engine.url.render_as_string(hide_password=True)!r})"

    def create_all(self) -> None:
        """Create the tables that do not exist yet (safe to call on every start)."""
        Base.metadata.create_all(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends and rolls back if it raises.

        Objects stay readable after the block (no expiry on commit)."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection (tests, and the server on shutdown)."""
        self.engine.dispose()


def default_db_url(store_uri: str) -> str:
    """The default database of a store: ``review.sqlite`` beside a local store's folder, or
    ``./kho-review.sqlite`` for an S3 store (pass ``--db`` to put it elsewhere)."""
    if store_uri.startswith("s3://"):
        return f"sqlite:///{Path(S3_DB_FILE).resolve()}"
    path = store_uri[len("file://"):] if store_uri.startswith("file://") else store_uri
    return f"sqlite:///{Path(path).expanduser().resolve().parent / DB_FILE}"


__all__ = ["Assignment", "Base", "DatabaseConfigError", "Item", "Judgement", "LABELS", "LoginAttempt", "Queue",
           "ROLES", "ReviewDB", "User", "WebSession", "default_db_url", "utcnow"]
