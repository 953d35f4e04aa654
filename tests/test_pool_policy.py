"""MariaDB pooled connections (models/pool_policy.py): no rollback for a session that only read,
one for a session that wrote or whose statement failed, never a connection returned with
uncommitted writes or locks, a ping only after the connection sat idle.

Runs on MariaDB in both legs of `make test` (FDY_TEST_MARIADB_URL); it fails without one.
"""
from __future__ import annotations

import pytest
from sqlalchemy import exc, text
from sqlalchemy.orm import Session

from models import pool_policy
from models.base import make_engine


@pytest.fixture
def engine(mariadb_url):
    engine = make_engine(mariadb_url)
    yield engine
    engine.dispose()


def rollbacks_seen(engine) -> int:
    """ROLLBACKs the server counted on the (single) pooled connection so far."""
    with engine.connect() as conn:
        return int(conn.execute(text("SHOW SESSION STATUS LIKE 'Com_rollback'")).first()[1])


@pytest.fixture
def probe(engine):
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS pool_policy_probe (id INT PRIMARY KEY) ENGINE=InnoDB"))
        conn.execute(text("DELETE FROM pool_policy_probe"))
    yield
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS pool_policy_probe"))


def in_transaction(engine) -> int:
    with engine.connect() as conn:  # the single pooled connection
        return int(conn.execute(text("SELECT @@in_transaction")).scalar())


def test_a_session_that_only_read_costs_no_rollback(engine):
    before = rollbacks_seen(engine)
    with Session(engine) as session:
        session.execute(text("SELECT 1")).all()
    after = rollbacks_seen(engine)
    # SQLAlchemy's defaults would count three here: the first reading's close, the session's
    # close and the pool's reset after it. Under READ COMMITTED a read holds nothing to undo.
    assert after - before == 0
    assert engine.pool.checkedout() == 0 and engine.pool.size() >= 1


def test_a_session_that_wrote_is_rolled_back_once(engine, probe):
    before = rollbacks_seen(engine)
    with Session(engine) as session:
        session.execute(text("INSERT INTO pool_policy_probe (id) VALUES (7)"))
    assert rollbacks_seen(engine) - before == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM pool_policy_probe")).scalar() == 0


def test_a_failed_first_statement_is_rolled_back(engine, probe):
    # The failed INSERT's error carries no status flag, and the last one seen said "no
    # transaction"; but InnoDB opened one and holds a lock on the duplicate row.
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO pool_policy_probe (id) VALUES (1)"))
    with Session(engine) as session:
        session.execute(text("SELECT 1")).all()  # a clean reply first: the flag says "none open"
        with pytest.raises(exc.IntegrityError):
            session.execute(text("INSERT INTO pool_policy_probe (id) VALUES (1)"))
    assert in_transaction(engine) == 0


def test_uncommitted_writes_never_go_back_to_the_pool(engine, probe):
    raw = engine.raw_connection()  # no Session, no Connection: nothing ends the transaction
    cursor = raw.cursor()
    cursor.execute("INSERT INTO pool_policy_probe (id) VALUES (1)")
    cursor.close()
    assert pool_policy.transaction_open(raw.dbapi_connection)
    raw.close()  # back to the pool with the insert pending

    with engine.connect() as conn:  # the same pooled connection
        assert conn.execute(text("SELECT COUNT(*) FROM pool_policy_probe")).scalar() == 0
        conn.commit()  # had the insert survived the return, this would have kept it
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM pool_policy_probe")).scalar() == 0


def _kill_pooled_connection(engine) -> None:
    with engine.connect() as conn:
        victim = conn.execute(text("SELECT CONNECTION_ID()")).scalar()
    killer = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        with killer.connect() as conn:
            conn.execute(text(f"KILL {int(victim)}"))
    finally:
        killer.dispose()


def test_an_idle_connection_is_pinged_and_replaced(engine, monkeypatch):
    # No idle time is tolerated: every connection back in the pool counts as idle (no sleep).
    monkeypatch.setattr(pool_policy, "PING_IF_IDLE_FOR", 0.0)
    _kill_pooled_connection(engine)  # as a server restart or wait_timeout would
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_a_busy_connection_is_not_pinged(engine, monkeypatch):
    # Without a ping the killed connection is handed out as it is: the statement fails, and
    # SQLAlchemy invalidates the pool, so the next checkout connects afresh.
    monkeypatch.setattr(pool_policy, "PING_IF_IDLE_FOR", 60.0)
    _kill_pooled_connection(engine)
    with engine.connect() as conn:
        with pytest.raises(exc.DBAPIError) as caught:
            conn.execute(text("SELECT 1"))
        assert caught.value.connection_invalidated
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
