"""How pooled MariaDB connections are checked and reset: only when it can matter.

SQLAlchemy's defaults cost a busy webhook three round trips per request on top of its query:
`pool_pre_ping` pings on every checkout, Session.close rolls back even a transaction that
only read, and the pool's reset-on-return sends a second ROLLBACK after it. Here:

- ping on checkout only when the connection sat in the pool longer than PING_IF_IDLE_FOR.
  A connection in constant use needs no ping to survive a server restart: a restart takes
  seconds, so the connection either waited out the outage in the pool (then it is pinged)
  or was used during it (then that statement fails, SQLAlchemy invalidates the whole pool
  and the next checkout connects afresh);
- roll back (Session.close's and the pool's reset alike) only when the server says a
  transaction is open (its status flag in the last reply), or when the last statement got no
  reply to read the flag from (it failed: it may have taken locks before failing). That is
  exactly when a rollback matters: a connection never goes back to the pool with someone's
  uncommitted writes or locks. Under READ COMMITTED a transaction that only read holds nothing.
"""
from __future__ import annotations

import time

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

PING_IF_IDLE_FOR = 1.0  # seconds
_CHECKED_IN = "fdy_checked_in_at"
_IN_TRANSACTION = 0x0001  # MySQL protocol SERVER_STATUS_IN_TRANS


def engine_options() -> dict:
    """create_engine() options this policy replaces (it is applied by `apply`)."""
    return {"pool_pre_ping": False, "pool_reset_on_return": None}


def apply(engine: Engine) -> None:
    event.listen(engine, "connect", _track_replies)
    event.listen(engine, "connect", _mark_fresh)
    event.listen(engine, "checkin", _mark_fresh)
    event.listen(engine, "checkout", _ping_if_idle)
    event.listen(engine, "reset", _rollback_if_open)


def _mark_fresh(_dbapi_conn, record, *_):
    record.info[_CHECKED_IN] = time.monotonic()


def _ping_if_idle(dbapi_conn, record, _proxy):
    idle = time.monotonic() - record.info.get(_CHECKED_IN, 0.0)
    if idle <= PING_IF_IDLE_FOR:
        return
    try:
        dbapi_conn.ping(reconnect=False)
    except Exception as error:  # noqa: BLE001 - any failure means: not this connection
        # The pool discards this connection and checks out (or opens) another, up to 3 times.
        raise exc.DisconnectionError(f"pooled connection failed its ping: {error}") from error


def _track_replies(dbapi_conn, _record) -> None:
    """Wrap the PyMySQL connection's statement calls so a failed one is known (its status flag
    is then stale), and make its rollback skip a transaction the server says is not open."""
    if not hasattr(dbapi_conn, "server_status"):
        return
    for name in ("query", "commit"):
        setattr(dbapi_conn, name, _awaiting_reply(dbapi_conn, getattr(dbapi_conn, name)))
    rollback = _awaiting_reply(dbapi_conn, dbapi_conn.rollback)

    def rollback_if_open():
        if transaction_open(dbapi_conn):
            rollback()

    dbapi_conn.rollback = rollback_if_open


def _awaiting_reply(dbapi_conn, call):
    def tracked(*args, **kwargs):
        dbapi_conn.fdy_awaiting_reply = True
        result = call(*args, **kwargs)
        dbapi_conn.fdy_awaiting_reply = False  # not reached when the call raised
        return result

    return tracked


def transaction_open(dbapi_conn) -> bool:
    """Whether a transaction may be open: the server said so in its last reply, or the last
    statement raised before a reply said otherwise (True when unknown)."""
    status = getattr(dbapi_conn, "server_status", None)
    if status is None or getattr(dbapi_conn, "fdy_awaiting_reply", False):
        return True
    return bool(status & _IN_TRANSACTION)


def _rollback_if_open(dbapi_conn, _record, state):
    if not state.terminate_only:
        dbapi_conn.rollback()  # skips itself when nothing is open (_track_replies)
