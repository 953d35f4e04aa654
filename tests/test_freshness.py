"""Caches of the webhook (bot/freshness.py, models/changes.py): used while current, never after.

A cached sender or 进展 reply must give way to the data as soon as anything that shaped it
changed, in this process (the commit's own listener) or in another one (the token in Redis).
"""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event, text, update

from bot.freshness import StampedCache, adopt_request_tokens, request_tokens
from models import changes
from models import db as database
from models.graduates import Graduate
from models.identity import Identity
from tests.test_binding import last_code
from tests.wechat_client import new_openid


@contextmanager
def statements():
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", record)


def tokens(redis_conn) -> list:
    return redis_conn.mget(changes.token_keys())


def another_process_committed(redis_conn, kind: str) -> None:
    """What a commit in another process leaves in Redis: a new token for the kind it changed."""
    redis_conn.set(changes.TOKEN_KEY.format(kind), f"elsewhere-{new_openid()}")


@pytest.fixture
def counselor_with_graduates(factory):
    college = factory.college(factory.school())
    major = factory.major(college, name="软件工程")
    openid = new_openid()
    counselor = factory.counselor(college, majors=[major], cohorts=[2026], study_level="本科", openid=openid)
    for destination in ("签约就业", "待就业", "待就业"):
        factory.graduate(major, destination=destination)
    factory.commit()
    return counselor, openid, major


def test_a_second_message_resolves_its_sender_without_a_query(counselor_with_graduates, wechat):
    _, openid, _ = counselor_with_graduates
    wechat.ask(openid, "任务")  # creates the tokens
    wechat.ask(openid, "任务")  # resolves and caches
    with statements() as seen:
        wechat.ask(openid, "任务")
    assert seen, "任务 still reads the counselor's tasks"
    assert not [s for s in seen if "FROM identities" in s], seen


def test_progress_is_served_from_cache_until_a_graduate_changes_here(counselor_with_graduates, wechat, db):
    _, openid, major = counselor_with_graduates
    wechat.ask(openid, "进展")
    first = wechat.ask(openid, "进展")
    assert "毕业生 3 人，已落实 1 人" in first
    with statements() as seen:
        assert wechat.ask(openid, "进展") == first
    assert not [s for s in seen if "graduates" in s], seen

    # A job of this process (an import) commits through its own session.
    db.execute(update(Graduate).where(Graduate.major_id == major.id).values(destination="签约就业"))
    db.commit()
    assert "毕业生 3 人，已落实 3 人" in wechat.ask(openid, "进展")


def test_a_change_committed_by_another_process_is_seen_by_the_next_message(counselor_with_graduates, wechat,
                                                                           redis_conn, app):
    counselor, openid, _ = counselor_with_graduates
    wechat.ask(openid, "进展")
    assert "毕业生 3 人" in wechat.ask(openid, "进展")

    # The other process's write, as this process cannot see it (no session here).
    with app.extensions["fdy.db"].engine.begin() as conn:
        conn.execute(update(Graduate).where(Graduate.college_id == counselor.college_id)
                     .values(destination="签约就业"))
        conn.execute(update(Identity).where(Identity.openid == openid).values(openid=None))
    # Until its commit is announced the cache may answer from before it (the age limit bounds that) ...
    assert "毕业生 3 人，已落实 1 人" in wechat.ask(openid, "进展")
    # ... and the message after the announcement sees it: the sender is now unbound.
    another_process_committed(redis_conn, changes.PEOPLE)
    assert "尚未绑定" in wechat.ask(openid, "进展")


def test_binding_in_chat_is_seen_at_once(factory, wechat, redis_conn, db):
    college = factory.college(factory.school())
    factory.counselor(college, phone="13812345678")
    factory.commit()
    openid = new_openid()
    assert "尚未绑定" in wechat.ask(openid, "任务")
    assert "尚未绑定" in wechat.ask(openid, "任务")  # now cached as unbound
    before = tokens(redis_conn)
    wechat.ask(openid, "绑定 13812345678")
    assert "绑定成功" in wechat.ask(openid, last_code(db, "13812345678"))
    assert tokens(redis_conn)[0] != before[0]
    assert "尚未绑定" not in wechat.ask(openid, "任务")


def test_missing_tokens_are_created_and_nothing_is_cached_meanwhile(counselor_with_graduates, wechat, redis_conn):
    _, openid, _ = counselor_with_graduates
    redis_conn.flushdb()  # a new Redis
    assert tokens(redis_conn) == [None] * len(changes.KINDS)
    wechat.ask(openid, "任务")
    assert None not in tokens(redis_conn)
    redis_conn.flushdb()  # Redis restarted empty: every stamp is now unknown
    with statements() as seen:
        wechat.ask(openid, "任务")
    assert [s for s in seen if "FROM identities" in s]


def test_writes_are_classified_by_table(db, factory):
    college = factory.college(factory.school())
    factory.commit()
    assert db.info.get("fdy_changed_kinds") is None
    factory.major(college, name="数学")
    assert db.info["fdy_changed_kinds"] == {changes.PEOPLE, changes.GRADUATES}
    db.rollback()
    assert db.info.get("fdy_changed_kinds") is None

    db.execute(update(Graduate).where(Graduate.id == -1).values(destination="x"))
    assert db.info["fdy_changed_kinds"] == {changes.GRADUATES}
    db.rollback()
    db.execute(text("UPDATE graduates SET destination = destination WHERE id = -1"))
    assert db.info["fdy_changed_kinds"] == set(changes.KINDS)  # raw SQL: assume everything
    db.rollback()
    db.execute(text("SELECT 1"))
    assert db.info.get("fdy_changed_kinds") is None


def test_a_savepoint_rollback_keeps_what_the_transaction_wrote_before(db, factory, redis_conn):
    college = factory.college(factory.school())
    factory.commit()
    before = tokens(redis_conn)
    factory.major(college, name="物理")  # flushed in the outer transaction
    with db.begin_nested() as savepoint:
        db.execute(update(Graduate).where(Graduate.id == -1).values(destination="x"))
        savepoint.rollback()
    db.commit()
    after = tokens(redis_conn)
    assert after[0] != before[0] and after[1] != before[1]


def test_the_cache_needs_tokens_and_honours_its_age_limit(app, redis_conn):
    cache = StampedCache((changes.PEOPLE,), max_age=60)
    with app.test_request_context():
        adopt_request_tokens(redis_conn, None)  # Redis failed for this request
        cache.put("k", "v")
        assert cache.get("k") is None and request_tokens() is None
    with app.test_request_context():
        adopt_request_tokens(redis_conn, [b"t1", b"t2"])
        cache.put("k", "v")
        assert cache.get("k") == "v"
        cache.max_age = 0
        assert cache.get("k") is None
    with app.test_request_context():
        cache.max_age = 60
        adopt_request_tokens(redis_conn, [b"t1", b"t2"])
        cache.put("k", "v")
    with app.test_request_context():
        adopt_request_tokens(redis_conn, [b"t1-changed", b"t2"])
        assert cache.get("k") is None


def test_the_cache_is_bounded(app, redis_conn):
    cache = StampedCache((changes.PEOPLE,), max_entries=100)
    with app.test_request_context():
        adopt_request_tokens(redis_conn, [b"t1", b"t2"])
        for i in range(1000):
            cache.put(i, i)
        assert len(cache) <= 100 and cache.get(999) == 999


def test_an_import_of_new_graduates_is_seen_by_the_next_progress(counselor_with_graduates, wechat, db):
    # The importer inserts new rows through the driver's executemany, past the session's
    # events; it records the write itself (changes.wrote) so the cached reply gives way.
    import io

    from models.importer import import_graduates
    from tests.test_import import csv_text, row

    from models.units import Unit

    counselor, openid, major = counselor_with_graduates
    college = db.get(Unit, counselor.college_id)
    school = db.get(Unit, college.parent_id)
    province = db.get(Unit, school.parent_id)
    wechat.ask(openid, "进展")
    assert "毕业生 3 人，已落实 1 人" in wechat.ask(openid, "进展")
    data = csv_text([row(f"FR{i}", province=province.name, school=school.name, college=college.name,
                         major=major.name, dest="协议就业") for i in range(2)])
    report = import_graduates(db, io.BytesIO(data.encode()), filename="new.csv")
    assert (report.created, report.errors) == (2, [])
    assert "毕业生 5 人，已落实 3 人" in wechat.ask(openid, "进展")
