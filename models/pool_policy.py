"""How pooled MariaDB connections are checked and reset: only when it can matter.

SQLAlchemy's defaults cost a busy webhook two round trips per request on top of its query:
`pool_pre_ping` pings on every checkout, and the pool rolls back on every return even
right after the Session has rolled back itself (Session.close ends the transaction, then
the pool's reset-on-return sends a second ROLLBACK). Here:

- ping on checkout only when the connection sat in the pool longer than PING_IF_IDLE_FOR.
  A connection in constant use needs no ping to survive a server restart: a restart takes
  seconds, so the connection either waited out the outage in the pool (then it is pinged)
  or was used during it (then that statement fails, SQLAlchemy invalidates the whole pool
  and the next checkout connects afresh);
- roll back on return only when the server says a transaction is still open (its status
  flag in the last reply), which is exactly when the reset matters: a connection never goes
  back to the pool with someone's uncommitted writes.
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


def transaction_open(dbapi_conn) -> bool:
    """Whether the server reported an open transaction in its last reply (True when unknown)."""
    status = getattr(dbapi_conn, "server_status", None)
    return True if status is None else bool(status & _IN_TRANSACTION)


def _rollback_if_open(dbapi_conn, _record, state):
    if not state.terminate_only and transaction_open(dbapi_conn):
        dbapi_conn.rollback()
