"""Engine and sessions: one session per app context (a request or a job)."""
from __future__ import annotations

import logging
import os
from datetime import datetime, timezone
from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from . import bulk_load, changes, pool_policy

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    """Naive UTC: what both SQLite and MariaDB DATETIME columns store."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC; accepts aware datetimes and converts them."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value


class _AppDatabase:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.sessionmaker = sessionmaker(engine, expire_on_commit=False)
        changes.watch(self.sessionmaker)
        self.pid = os.getpid()

    def after_fork_check(self) -> None:
        # A forked RQ work-horse must not share the parent's pooled sockets.
        if os.getpid() != self.pid:
            self.engine.dispose(close=False)
            self.pid = os.getpid()


class Database:
    """Per-app engine and session factory (several apps may live in one test process)."""

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"], echo=app.config.get("SQL_ECHO", False))
        app.extensions["fdy.db"] = _AppDatabase(engine)
        app.teardown_appcontext(self._remove_session)

    @staticmethod
    def _state() -> _AppDatabase:
        state = current_app.extensions["fdy.db"]
        state.after_fork_check()
        return state

    @property
    def engine(self) -> Engine:
        return self._state().engine

    @property
    def session(self) -> Session:
        """The session of the current app context, created on first use."""
        if "db_session" not in g:
            g.db_session = self._state().sessionmaker()
        return g.db_session

    @staticmethod
    def _remove_session(exc=None):
        session = g.pop("db_session", None)
        if session is not None:
            try:
                if exc is not None:
                    session.rollback()
                session.close()
            except Exception:
                # The connection died under us (a database restart): the reply has been made,
                # so drop the connection instead of turning the request into a 500.
                logging.getLogger(__name__).warning("database session close failed; connection invalidated",
                                                    exc_info=True)
                try:
                    session.invalidate()
                except Exception:
                    pass


def make_engine(url: str, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            # WAL lets the web process read while a worker writes.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            # 64 MiB page cache: a national-size recipient query stays in memory.
            cur.execute("PRAGMA cache_size=-65536")
            # Checkpoint (and fsync) after ~80 MB of WAL instead of SQLite's 4 MB: a bulk write
            # (an import, a fan-out's rows) then pays the fsync a twentieth as often; measured on
            # a 100k-row national import, 2.6 s of commits fell to 1.3 s.
            cur.execute("PRAGMA wal_autocheckpoint=20000")
            cur.close()

        return engine
    # Pings and resets as models/pool_policy.py says (survives a MariaDB restart without a round
    # trip per checkout); recycle stays under wait_timeout. READ COMMITTED: each statement sees
    # what other processes committed (REPEATABLE READ would pin a request's view to its first
    # read, and takes gap locks that slow bulk fan-out).
    engine = create_engine(url, echo=echo, pool_recycle=1800, pool_size=10, max_overflow=20,
                           isolation_level="READ COMMITTED", **pool_policy.engine_options())
    pool_policy.apply(engine)
    bulk_load.enable(engine)
    return engine


db = Database()
