"""Counselor and staff task commands through the webhook: 任务, 任务 N, 完成 N (idempotent),
签到 N (window edges, clock moved not slept), confidential tasks, 未完成, 触达, 催办 (2 h), 撤销."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, select

import models.clock as clockmod
from models.dispatch import Draft, create_task
from models.tasks import Notification, Task, TaskRecipient, TaskUrge
from models.vocab import SCHOOL
from tests.test_dispatch import build_world
from tests.wechat_client import WeChatServer, new_openid


def make_task(db, issuer, *, title="测试任务", type="其他", cohort=2026, levels=("本科", "硕士"),
              narrowing_ids=(), deadline=None, live_start=None, live_end=None, confidential=False,
              content="任务内容", link=None, student_text=None) -> Task:
    iso = lambda dt: dt.isoformat() if dt else None  # noqa: E731
    draft = Draft(title=title, type=type, cohort=cohort, levels=list(levels), content=content,
                  narrowing_ids=list(narrowing_ids), deadline=iso(deadline), live_start=iso(live_start),
                  live_end=iso(live_end), link=link, confidential=confidential, student_text=student_text)
    task, _, _ = create_task(db, issuer, draft)
    return task


def set_clock(monkeypatch, when: datetime):
    monkeypatch.setattr(clockmod, "clock", lambda: when)


@pytest.fixture
def world(factory, simulator):
    return build_world(factory, simulator)


def test_complete_is_idempotent_and_committed(world, wechat, db, monkeypatch):
    task = make_task(db, world.school_staff, title="填报就业数据")
    openid = world.openids["cs_ben"]
    first_time = datetime(2026, 11, 24, 2, 0)
    set_clock(monkeypatch, first_time)
    first = wechat.ask(openid, f"完成 {task.id}")
    assert "已完成" in first and "填报就业数据" in first
    rec = db.scalar(select(TaskRecipient).where(TaskRecipient.task_id == task.id,
                                                TaskRecipient.account_id == world.counselors["cs_ben"].id))
    db.refresh(rec)
    assert rec.completed_at == first_time
    set_clock(monkeypatch, first_time + timedelta(hours=3))
    again = wechat.ask(openid, f"完成　{task.id}")  # full-width space works too
    assert "已完成" in again and "2026-11-24 10:00" in again and "无需重复" in again
    db.refresh(rec)
    assert rec.completed_at == first_time


def test_two_completions_at_once_write_once(world, wechat, db, app):
    """Two 完成 of one task by one counselor at once (two taps, two devices): both requests read
    "not done" before either writes; one UPDATE changes the row, and both replies say 已完成."""
    task = make_task(db, world.school_staff, title="同时完成")
    openid = world.openids["cs_ben"]
    engine = app.extensions["fdy.db"].engine
    both_read = threading.Barrier(2, timeout=30)
    changed: list[int] = []

    def is_completion(statement: str) -> bool:
        return statement.lstrip().lower().startswith("update task_recipients set completed_at")

    def hold_until_both_read(conn, cursor, statement, parameters, context, executemany):
        if is_completion(statement):
            both_read.wait()

    def count_changed(conn, cursor, statement, parameters, context, executemany):
        if is_completion(statement):
            changed.append(cursor.rowcount)

    second = WeChatServer(wechat.base_url, wechat.token, wechat.app_id, wechat.aes_key)
    event.listen(engine, "before_cursor_execute", hold_until_both_read)
    event.listen(engine, "after_cursor_execute", count_changed)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            replies = list(pool.map(lambda server: server.ask(openid, f"完成 {task.id}"), (wechat, second)))
    finally:
        event.remove(engine, "before_cursor_execute", hold_until_both_read)
        event.remove(engine, "after_cursor_execute", count_changed)

    assert sorted(changed) == [0, 1]
    assert all("已完成" in reply for reply in replies), replies
    assert sorted("无需重复提交" in reply for reply in replies) == [False, True], replies
    rec = db.scalar(select(TaskRecipient).where(TaskRecipient.task_id == task.id,
                                                TaskRecipient.account_id == world.counselors["cs_ben"].id))
    db.refresh(rec)
    assert rec.completed_at is not None


def test_complete_refuses_tasks_not_received(world, wechat, db):
    task = make_task(db, world.school_staff)
    outsider = world.openids["fl_ben"]  # not in levels? it is 本科 of 外语学院 and in the school: receives
    other = make_task(db, world.college_staff, levels=("博士",))
    assert "没有找到派发给您的任务" in wechat.ask(world.openids["sw_ben"], f"完成 {other.id}")
    assert "没有找到派发给您的任务" in wechat.ask(outsider, "完成 99999")
    assert "仅限辅导员" in wechat.ask(world.school_openid, f"完成 {task.id}")


def test_unbound_user_gets_binding_instructions(world, wechat, db):
    task = make_task(db, world.school_staff)
    assert "绑定" in wechat.ask(new_openid(), f"完成 {task.id}")


@pytest.fixture
def live_task(world, db):
    start = datetime(2026, 11, 28, 11, 0)  # 19:00 Beijing
    return make_task(db, world.school_staff, title="直播课", type="就业创业直播课",
                     live_start=start, live_end=start + timedelta(minutes=90))


@pytest.mark.parametrize("offset, accepted", [
    (-timedelta(minutes=30), True),
    (-timedelta(minutes=30, seconds=1), False),
    (timedelta(minutes=90 + 30), True),
    (timedelta(minutes=90 + 30, seconds=1), False),
    (timedelta(minutes=45), True),
])
def test_checkin_window_edges(world, wechat, db, monkeypatch, live_task, offset, accepted):
    set_clock(monkeypatch, live_task.live_start + offset)
    reply = wechat.ask(world.openids["cs_ben"], f"签到 {live_task.id}")
    if accepted:
        assert "签到成功" in reply
    else:
        assert "签到成功" not in reply
        assert "2026-11-28 18:30 至 2026-11-28 21:00" in reply, reply
    rec = db.scalar(select(TaskRecipient).where(TaskRecipient.task_id == live_task.id,
                                                TaskRecipient.account_id == world.counselors["cs_ben"].id))
    db.refresh(rec)
    assert (rec.checked_in_at is not None) == accepted


def test_checkin_repeat_and_live_needs_both(world, wechat, db, monkeypatch, live_task):
    set_clock(monkeypatch, live_task.live_start)
    openid = world.openids["cs_ben"]
    done = wechat.ask(openid, f"完成 {live_task.id}")
    assert "已完成" in done and f"签到 {live_task.id}" in done
    assert "签到成功" in wechat.ask(openid, f"签到 {live_task.id}")
    assert "无需重复签到" in wechat.ask(openid, f"签到 {live_task.id}")
    # Only completed (no check-in): not counted as done.
    wechat.ask(world.openids["cs_shuo"], f"完成 {live_task.id}")
    reply = wechat.ask(world.school_openid, f"进度 {live_task.id}")
    assert "已完成 1/" in reply and "已标记完成 2，已签到 1" in reply


def test_checkin_only_for_live_tasks(world, wechat, db):
    task = make_task(db, world.school_staff, type="招聘会")
    reply = wechat.ask(world.openids["cs_ben"], f"签到 {task.id}")
    assert "不是直播课" in reply and "签到成功" not in reply


def test_counselor_task_list_and_detail(world, wechat, db, live_task):
    confidential = make_task(db, world.school_staff, title="内部学习材料", confidential=True, content="内部内容")
    fair = make_task(db, world.school_staff, title="双选会", type="招聘会", link="https://example.edu.cn/fair",
                     deadline=datetime(2030, 1, 1, 10, 0))
    openid = world.openids["cs_ben"]
    wechat.ask(openid, f"完成 {fair.id}")
    listing = wechat.ask(openid, "任务")
    assert f"#{confidential.id}" in listing and f"#{live_task.id}" in listing and "待办任务 2 个" in listing
    assert "最近完成" in listing and f"#{fair.id}" in listing
    detail = wechat.ask(openid, f"任务 {confidential.id}")
    assert "本任务保密，仅限本人学习，无需转发学生" in detail and "内部内容" in detail
    assert f"/tasks/{confidential.id}" in detail
    fair_detail = wechat.ask(openid, f"任务 {fair.id}")
    assert "https://example.edu.cn/fair" in fair_detail and "2030-01-01 18:00" in fair_detail
    assert "保密" not in fair_detail
    live_detail = wechat.ask(openid, f"任务 {live_task.id}")
    assert "签到时间：2026-11-28 18:30 至 2026-11-28 21:00" in live_detail
    assert "没有找到派发给您的任务" in wechat.ask(world.openids["cs_2025"], f"任务 {fair.id}")


def test_task_list_pages_are_ordered_and_counted_on_every_database(world, db):
    # The 任务 statement is built two ways (SQLite: derived tables; MariaDB: parenthesized
    # members); both must give the pages a plain sort of the counselor's rows gives.
    from sqlalchemy import update

    from models.counselor_tasks import PENDING_PAGE, counselor_task_lines

    ben = world.counselors["cs_ben"]
    start = datetime(2030, 1, 1, 8, 0)
    made = [make_task(db, world.school_staff, title=f"任务{i}", deadline=start + timedelta(days=i % 4) if i % 5 else None)
            for i in range(PENDING_PAGE + 9)]
    made.append(make_task(db, world.school_staff, title="直播", type="直播课", live_start=start,
                          live_end=start + timedelta(hours=2)))
    done_at = {task.id: start - timedelta(hours=(k * 7) % 5) for k, task in enumerate(made[::3])}
    for task_id, when in done_at.items():
        db.execute(update(TaskRecipient).where(TaskRecipient.task_id == task_id, TaskRecipient.account_id == ben.id)
                   .values(completed_at=when))
    db.commit()

    rows = db.execute(select(Task.id, Task.type, Task.deadline, TaskRecipient.completed_at, TaskRecipient.checked_in_at)
                      .join(TaskRecipient, TaskRecipient.task_id == Task.id)
                      .where(TaskRecipient.account_id == ben.id)).all()
    pending = [r for r in rows if r.completed_at is None or (r.type == "直播课" and r.checked_in_at is None)]
    done = [r for r in rows if r not in pending]
    pending.sort(key=lambda r: (r.deadline is None, r.deadline or start, -r.id))
    done.sort(key=lambda r: (r.completed_at, r.id), reverse=True)
    page = PENDING_PAGE + 2  # long enough to reach the tasks without a deadline, short of all
    assert page < len(pending) and len(done) > 5 and any(r.deadline is None for r in pending[:page])

    got_pending, got_done, total = counselor_task_lines(db, ben.id, pending_limit=page)
    assert [line.id for line in got_pending] == [r.id for r in pending[:page]]
    assert [line.id for line in got_done] == [r.id for r in done[:5]]
    assert total == len(pending)


def test_staff_task_list_shows_issued_and_managed(world, wechat, db, factory):
    school_task = make_task(db, world.school_staff, title="全校任务")
    college_task = make_task(db, world.college_staff, title="计院任务")
    # A task of another school entirely.
    other_school = factory.school()
    other_staff = factory.staff(SCHOOL, other_school)
    factory.counselor(factory.college(other_school), cohorts=[2026])
    factory.commit()
    foreign = make_task(db, other_staff, title="外校任务")
    listing = wechat.ask(world.college_openid, "任务")
    assert f"#{school_task.id}" in listing and f"#{college_task.id}" in listing
    assert f"#{foreign.id}" not in listing
    assert "没有找到任务" in wechat.ask(world.college_openid, f"任务 {foreign.id}")
    detail = wechat.ask(world.college_openid, f"任务 {school_task.id}")
    assert "全校任务" in detail and "已完成 0/" in detail


def test_reach_counts_and_lists_unbound(world, wechat):
    reply = wechat.ask(world.college_openid, "触达")
    # 计算机学院: cs_ben, cs_shuo, cs_unbound, cs_unfollowed, cs_bo, cs_2025 = 6; bound 5; following 4.
    assert "辅导员 6 人：已绑定 5 人，其中关注公众号 4 人；未绑定 1 人" in reply, reply
    assert "辅导员cs_unbound" in reply and "尾号" in reply
    school = wechat.ask(world.school_openid, "触达")
    assert "辅导员 9 人" in school


def test_pending_list_masks_phones(world, wechat, db):
    task = make_task(db, world.school_staff)
    reply = wechat.ask(world.school_openid, f"未完成 {task.id}")
    phone = world.counselors["cs_unbound"].phone
    assert phone not in reply and f"尾号{phone[-4:]}" in reply
    assert "（未触达）" in reply


def test_urge_once_per_two_hours_per_staff(world, wechat, db, monkeypatch, run_jobs, simulator):
    task = make_task(db, world.school_staff)
    openid = world.openids["cs_ben"]
    wechat.ask(world.openids["cs_shuo"], f"完成 {task.id}")
    run_jobs()
    base = datetime(2026, 11, 24, 1, 0)
    set_clock(monkeypatch, base)
    first = wechat.ask(world.college_openid, f"催办 {task.id}")
    # College scope: cs_ben, cs_unbound, cs_unfollowed pending (cs_shuo done; sw_* not its own).
    assert "向 3 名未完成的辅导员" in first and "其中 2 名未触达" in first, first
    set_clock(monkeypatch, base + timedelta(hours=2) - timedelta(seconds=1))
    again = wechat.ask(world.college_openid, f"催办 {task.id}")
    assert "2小时内只能催办一次" in again
    # Another staff user (the school) is not limited by the college's 催办.
    assert "已催办" in wechat.ask(world.school_openid, f"催办 {task.id}")
    set_clock(monkeypatch, base + timedelta(hours=2))
    assert "已催办" in wechat.ask(world.college_openid, f"催办 {task.id}")
    db.rollback()  # a new snapshot: MariaDB's repeatable read would show the old one
    assert db.query(TaskUrge).count() == 3
    run_jobs()
    db.rollback()
    urges = [m for m in simulator.inbox(openid) if m["template_id"] == "tpl-reminder"]
    assert len(urges) == 3  # one per 催办, each its own kind
    assert all(m["data"]["phrase4"]["value"] == "催办" for m in urges)
    done = [m for m in simulator.inbox(world.openids["cs_shuo"]) if m["template_id"] == "tpl-reminder"]
    assert done == []
    kinds = set(db.scalars(select(Notification.kind).where(Notification.account_id == world.counselors["sw_ben"].id)))
    assert len([k for k in kinds if k.startswith("urge:")]) == 1  # only the school's 催办 reached 软件学院


def test_withdraw_only_by_issuer(world, wechat, db, monkeypatch):
    task = make_task(db, world.school_staff, deadline=datetime(2030, 1, 1))
    assert "只有任务" in wechat.ask(world.college_openid, f"撤销 {task.id}")
    assert "已撤销" in wechat.ask(world.school_openid, f"撤销 {task.id}")
    assert "已撤销" in wechat.ask(world.openids["cs_ben"], f"完成 {task.id}")
    assert "无需催办" in wechat.ask(world.school_openid, f"催办 {task.id}")


def test_long_replies_stay_within_a_passive_reply(factory, simulator, wechat, db):
    school = factory.school(name="一所名字相当长的综合性研究型示范大学")
    staff_openid = new_openid()
    staff = factory.staff(SCHOOL, school, openid=staff_openid)
    for i in range(14):
        college = factory.college(school, name=f"第{i:02d}号马克思主义与当代社会发展研究学院")
        for j in range(3):
            factory.counselor(college, name=f"很长名字的辅导员{i:02d}{j}", cohorts=[2026], with_identity=False)
    factory.commit()
    task = make_task(db, staff, title="标" * 64)
    progress = wechat.ask(staff_openid, f"进度 {task.id}")
    assert len(progress) <= 600 and "已完成 0/42" in progress and "未触达 42" in progress
    assert progress.count("研究学院") <= 10 and "共14个" in progress
    pending = wechat.ask(staff_openid, f"未完成 {task.id}")
    assert len(pending) <= 600 and "未完成 42 人" in pending and f"/progress/{task.id}" in pending
    reach = wechat.ask(staff_openid, "触达")
    assert len(reach) <= 600 and "辅导员 42 人" in reach
    for n in range(12):
        make_task(db, staff, title=f"任务标题也可以写得很长很长很长很长很长{n}")
    assert len(wechat.ask(staff_openid, "任务")) <= 600
