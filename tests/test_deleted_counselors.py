"""A deleted counselor leaves open tasks' figures, lists, reminders and 催办 (SPEC 5); its
completions stay, and closed tasks keep it in their figures (history)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from jobs import reminders
from models.tasks import Notification, TaskRecipient
from tests.test_task_commands import make_task, set_clock, world  # noqa: F401 - the fixture


def _rec(db, task, account):
    db.rollback()
    return db.scalar(select(TaskRecipient).where(TaskRecipient.task_id == task.id,
                                                 TaskRecipient.account_id == account.id))


def test_deleted_counselor_leaves_open_tasks_only(world, wechat, db, monkeypatch, run_jobs, app):  # noqa: F811
    now = datetime(2026, 11, 24, 1, 0)
    set_clock(monkeypatch, now)
    open_task = make_task(db, world.school_staff, title="进行中", deadline=now + timedelta(days=3))
    closed = make_task(db, world.school_staff, title="已截止", deadline=now - timedelta(hours=1))
    gone, stays = world.counselors["cs_ben"], world.counselors["cs_unbound"]
    wechat.ask(world.openids["cs_ben"], f"完成 {open_task.id}")
    wechat.ask(world.openids["cs_ben"], f"完成 {closed.id}")
    before = wechat.ask(world.college_openid, f"进度 {open_task.id}")
    assert "已完成 1/4" in before, before

    reply = wechat.ask(world.college_openid, f"删除账号 {gone.name}")
    assert "已删除辅导员" in reply and "已从 1 个进行中任务" in reply, reply

    # Figures and lists of the open task: without it; the closed task: as before (history).
    assert "已完成 0/3" in wechat.ask(world.college_openid, f"进度 {open_task.id}")
    assert "已完成 1/4" in wechat.ask(world.college_openid, f"进度 {closed.id}")
    issuer_view = wechat.ask(world.school_openid, f"进度 {open_task.id}")
    assert "已完成 0/6" in issuer_view, issuer_view
    # Its completion is still recorded.
    assert _rec(db, open_task, gone).completed_at is not None and _rec(db, open_task, gone).left_at is not None
    assert _rec(db, closed, gone).left_at is None

    # A second open task it had not completed: not in 未完成, no reminder, no 催办.
    other = make_task(db, world.school_staff, title="又一个", deadline=now + timedelta(days=3))
    wechat.ask(world.college_openid, f"删除账号 {stays.name}")
    pending = wechat.ask(world.college_openid, f"未完成 {other.id}")
    assert stays.name not in pending and world.counselors["cs_unfollowed"].name in pending
    with app.app_context():
        reminders.remind(other.id, "remind_deadline", now=now + timedelta(days=2))
    urge = wechat.ask(world.college_openid, f"催办 {other.id}")
    assert "向 2 名未完成的辅导员" in urge, urge
    run_jobs()
    db.rollback()
    kinds = set(db.scalars(select(Notification.kind).where(Notification.task_id == other.id,
                                                           Notification.account_id == stays.id)))
    assert not any(k == "remind_deadline" or k.startswith("urge:") for k in kinds), kinds
    reminded = set(db.scalars(select(Notification.account_id).where(Notification.task_id == other.id,
                                                                    Notification.kind == "remind_deadline")))
    assert world.counselors["cs_unfollowed"].id in reminded
