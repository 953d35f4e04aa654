"""The webhook's per-message cost (docs/PERFORMANCE.md "Webhook"): what the shortcuts keep."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from bot.role_tags import TAG_CACHE_KEY, cached_role_tags, ensure_role_tags, forget_role_tags, recent_role_tags
from models import db as database
from models.accounts import Account
from models.resolution import NO_ACCOUNT, OK, UNBOUND, resolve
from models.statistics import scope_label, scope_of
from models.vocab import SCHOOL
from tests.test_task_commands import make_task, world  # noqa: F401 - fixture
from tests.wechat_client import new_openid


@contextmanager
def counted_statements():
    seen: list[str] = []
    engine = database.engine

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_resolve_reads_a_bound_sender_in_one_statement(factory, db):
    school = factory.school()
    college = factory.college(school)
    counselor_openid, staff_openid, orphan_openid = new_openid(), new_openid(), new_openid()
    counselor = factory.counselor(college, openid=counselor_openid)
    staff = factory.staff(SCHOOL, school, openid=staff_openid)
    factory.identity("13900000001", openid=orphan_openid)  # bound, but no account has this phone
    factory.follower(orphan_openid)
    factory.commit()
    db.expunge_all()

    with counted_statements() as seen:
        sender = resolve(db, counselor_openid)
    assert len(seen) == 1
    assert (sender.status, sender.role, sender.account.id) == (OK, "counselor", counselor.id)
    assert sender.identity.openid == counselor_openid and sender.follower.following

    sender = resolve(db, staff_openid)
    assert (sender.status, sender.role, sender.account.id) == (OK, "staff", staff.id)

    sender = resolve(db, orphan_openid)
    assert (sender.status, sender.account, sender.follower.openid) == (NO_ACCOUNT, None, orphan_openid)

    stranger = new_openid()
    sender = resolve(db, stranger)
    assert (sender.status, sender.identity, sender.follower) == (UNBOUND, None, None)
    assert sender.following  # never saw an unsubscribe
    factory.follower(stranger, following=False)
    db.expunge_all()
    assert resolve(db, stranger).following is False


def test_resolve_ignores_an_inactive_account_with_the_phone(factory, db):
    college = factory.college(factory.school())
    openid = new_openid()
    counselor = factory.counselor(college, openid=openid)
    counselor.active_phone = None  # deleted accounts give up their phone (SPEC 2)
    factory.commit()
    db.expunge_all()
    assert resolve(db, openid).status == NO_ACCOUNT


def test_scope_of_reads_majors_and_cohorts_once(factory, db):
    college = factory.college(factory.school())
    majors = [factory.major(college, name=name) for name in ("软件工程", "网络工程")]
    account = factory.counselor(college, majors=list(reversed(majors)), cohorts=[2026, 2025], study_level="本科")
    factory.commit()
    account_id = account.id
    db.expunge_all()
    account = db.get(Account, account_id)
    with counted_statements() as seen:
        scope = scope_of(account)
        label = scope_label(account)
        again = scope_of(account)
    assert len(seen) == 2  # majors, cohorts; the label and the second call reuse them
    assert scope == again
    assert scope.major_ids == tuple(sorted(m.id for m in majors)) and scope.cohorts == (2025, 2026)
    assert label == "2025、2026届 本科 · 软件工程、网络工程"


def test_role_tags_are_kept_in_process_and_dropped_on_push(ctx, redis_conn, simulator):
    forget_role_tags()
    assert recent_role_tags() is None  # never set up
    redis_conn.hset(TAG_CACHE_KEY, mapping={"counselor": 7, "staff": 8})
    assert recent_role_tags() == {"counselor": 7, "staff": 8}
    redis_conn.hset(TAG_CACHE_KEY, mapping={"counselor": 70, "staff": 80})  # another process pushed
    assert recent_role_tags() == {"counselor": 7, "staff": 8}  # within the minute: the copy
    assert recent_role_tags(max_age=0) == {"counselor": 70, "staff": 80}
    pushed = ensure_role_tags(refresh=True)  # a push in this process: the copy is dropped
    assert recent_role_tags() == pushed == cached_role_tags()
    forget_role_tags()
    assert recent_role_tags() is None and cached_role_tags() is None


def test_task_list_counts_beyond_a_full_page(world, wechat, db):  # noqa: F811
    openid = world.openids["cs_ben"]
    for i in range(3):
        make_task(db, world.school_staff, title=f"少量任务{i}")
    assert "待办任务 3 个：" in wechat.ask(openid, "任务")
    for i in range(9):
        make_task(db, world.school_staff, title=f"更多任务{i}")
    reply = wechat.ask(openid, "任务")
    assert "待办任务 12 个（列出前10个）：" in reply
