"""Change tokens: which kinds of data a committed transaction changed, published in Redis.

Caches that live in a process (bot/freshness.py: who a sender is, a counselor's 进展 reply)
stamp what they keep with the tokens current when they computed it. Any commit that wrote
one of the watched tables sets that kind's token to a new random value once the commit has
happened, so every process sees on its next message that the stamp no longer matches.

The tables are watched at the session, not in each write path: a unit-of-work flush, an ORM
bulk statement and a Core insert/update/delete run through `session.execute` are all seen,
so a write path added later cannot forget to invalidate. Raw SQL text that writes counts as
a change of every kind. Every write of the app goes through a session of `db.sessionmaker`;
writes from outside the app (an operator's SQL client) are caught by the caches' age limit.
"""
from __future__ import annotations

import logging
import uuid

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

log = logging.getLogger(__name__)

PEOPLE = "people"          # who a WeChat user is: binding, accounts, their scope, following
GRADUATES = "graduates"    # employment figures
TASKS = "tasks"            # what a task says (the pages show it to thousands at once)

WATCHED: dict[str, frozenset[str]] = {
    PEOPLE: frozenset({"accounts", "identities", "followers", "account_majors", "account_cohorts",
                       "units", "majors"}),
    GRADUATES: frozenset({"graduates", "majors", "units"}),
    TASKS: frozenset({"tasks"}),
}
KINDS = tuple(WATCHED)
TOKEN_KEY = "fdy:changes:{}"
_INFO_KEY = "fdy_changed_kinds"


def token_keys() -> list[str]:
    return [TOKEN_KEY.format(kind) for kind in KINDS]


def kinds_of_tables(tables) -> set[str]:
    names = set(tables)
    return {kind for kind, watched in WATCHED.items() if names & watched}


def _mark(session: Session, kinds: set[str]) -> None:
    if kinds:
        session.info.setdefault(_INFO_KEY, set()).update(kinds)


def wrote(session: Session, *table_names: str) -> None:
    """Record writes made past the session's events (a driver-level executemany on its connection)."""
    _mark(session, kinds_of_tables(table_names))


def _table_names(mapper_or_table) -> set[str]:
    tables = getattr(mapper_or_table, "tables", None)  # a mapper: its table(s)
    if tables is not None:
        return {t.name for t in tables}
    name = getattr(mapper_or_table, "name", None)
    return {name} if name else set()


def _after_flush(session: Session, _flush_context) -> None:
    tables: set[str] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        tables |= {t.name for t in obj.__mapper__.tables}
        # A changed many-to-many collection writes its association table, not the object's.
        for rel in obj.__mapper__.relationships:
            if rel.secondary is not None:
                tables.add(rel.secondary.name)
    _mark(session, kinds_of_tables(tables))


def _do_orm_execute(state) -> None:
    statement = state.statement
    if isinstance(statement, TextClause):
        head = statement.text.lstrip()[:6].upper()
        if head not in ("SELECT", "PRAGMA", "EXPLAI", "SHOW V", "WITH R"):
            _mark(state.session, set(KINDS))
        return
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(statement, "table", None)
        _mark(state.session, kinds_of_tables(_table_names(table)) if table is not None else set(KINDS))


def _after_commit(session: Session) -> None:
    kinds = session.info.pop(_INFO_KEY, None)
    if kinds:
        publish(kinds)


def _after_soft_rollback(session: Session, previous_transaction) -> None:
    # Only the outermost transaction's rollback undoes every write; a savepoint's rollback leaves
    # earlier flushes of the transaction in place, and over-invalidating is harmless.
    if previous_transaction.parent is None and not previous_transaction.nested:
        session.info.pop(_INFO_KEY, None)


def watch(factory) -> None:
    """Track writes of every session `factory` (a sessionmaker) makes."""
    event.listen(factory, "after_flush", _after_flush)
    event.listen(factory, "do_orm_execute", _do_orm_execute)
    event.listen(factory, "after_commit", _after_commit)
    event.listen(factory, "after_soft_rollback", _after_soft_rollback)


_listeners: list = []


def on_publish(fn) -> None:
    """`fn(kinds)` runs in this process after a commit changed `kinds` (local caches drop them)."""
    if fn not in _listeners:
        _listeners.append(fn)


def ensure_tokens(conn) -> None:
    """Create the tokens a new or flushed Redis lacks (never replacing one that exists)."""
    try:
        pipe = conn.pipeline(transaction=False)
        for key in token_keys():
            pipe.set(key, uuid.uuid4().hex, nx=True)
        pipe.execute()
    except Exception as exc:  # noqa: BLE001 - no tokens: nothing is cached, which is safe
        log.warning("change tokens not created (%s)", type(exc).__name__)


def publish(kinds) -> None:
    """New tokens for `kinds`: every process's stamps of them stop matching."""
    for fn in _listeners:
        fn(set(kinds))
    conn = _redis()
    if conn is None:
        return
    try:
        conn.mset({TOKEN_KEY.format(kind): uuid.uuid4().hex for kind in kinds})
    except Exception as exc:  # noqa: BLE001 - the commit happened; caches fall back to their age limit
        log.warning("change tokens not published (%s): other processes' caches age out instead",
                    type(exc).__name__)


def _redis():
    if not has_app_context():
        return None
    return current_app.extensions.get("fdy.redis")
