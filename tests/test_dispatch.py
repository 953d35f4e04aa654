"""派发 in chat: the form, every error at once, the preview, 确认/取消, recipients fixed at dispatch,
and the end-to-end run through the worker, the simulator and staff of two levels."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from models.tasks import Task, TaskRecipient
from models.vocab import COLLEGE, SCHOOL
from tests.wechat_client import new_openid

FAIR_FORM = """派发
标题：2026届秋季双选会
类型：招聘会
届别：2026
层次：本科,硕士
范围：计算机学院,软件学院
截止：{deadline}
链接：https://example.edu.cn/fair
保密：否
内容：双选会在体育馆举行。
请提前通知学生携带简历。"""

CONFIRM = re.compile(r"已派发任务 #(\d+)，共 (\d+) 名辅导员，其中 (\d+) 名未触达")


def future(days: int = 7, hour: int = 18) -> str:
    day = datetime.now() + timedelta(days=days)
    return day.strftime(f"%Y-%m-%d {hour:02d}:00")


@dataclass
class World:
    school: object
    colleges: dict
    school_staff: object
    school_openid: str
    college_staff: object
    college_openid: str
    counselors: dict = field(default_factory=dict)   # key -> Account
    openids: dict = field(default_factory=dict)      # key -> openid (None when unbound)


def build_world(factory, simulator) -> World:
    """A school with three colleges; counselors of two levels, bound, unbound and not following."""
    school = factory.school(name="示范大学")
    colleges = {name: factory.college(school, name=name) for name in ("计算机学院", "软件学院", "外语学院")}
    school_openid, college_openid = new_openid(), new_openid()
    world = World(school=school, colleges=colleges,
                  school_staff=factory.staff(SCHOOL, school, name="校就业处", openid=school_openid),
                  school_openid=school_openid,
                  college_staff=factory.staff(COLLEGE, colleges["计算机学院"], name="计院老师", openid=college_openid),
                  college_openid=college_openid)
    simulator.add_user(school_openid)
    simulator.add_user(college_openid)
    specs = {
        # key: (college, level, cohorts, bound, following)
        "cs_ben": ("计算机学院", "本科", [2026], True, True),
        "cs_shuo": ("计算机学院", "硕士", [2025, 2026], True, True),
        "cs_unbound": ("计算机学院", "本科", [2026], False, True),
        "cs_unfollowed": ("计算机学院", "本科", [2026], True, False),
        "sw_ben": ("软件学院", "本科", [2026], True, True),
        "sw_shuo": ("软件学院", "硕士", [2026], True, True),
        # Outside the task: another college, another level, another cohort.
        "fl_ben": ("外语学院", "本科", [2026], True, True),
        "cs_bo": ("计算机学院", "博士", [2026], True, True),
        "cs_2025": ("计算机学院", "本科", [2025], True, True),
    }
    for key, (college, level, cohorts, bound, following) in specs.items():
        openid = new_openid() if bound else None
        world.counselors[key] = factory.counselor(colleges[college], name=f"辅导员{key}", study_level=level,
                                                  cohorts=cohorts, openid=openid, following=following)
        world.openids[key] = openid
        if openid:
            simulator.add_user(openid, subscribe=following)
    factory.commit()
    return world


RECIPIENTS = {"cs_ben", "cs_shuo", "cs_unbound", "cs_unfollowed", "sw_ben", "sw_shuo"}


def dispatch(wechat, openid: str, form: str) -> int:
    preview = wechat.ask(openid, form)
    assert "回复「确认」派发，「取消」放弃" in preview, preview
    reply = wechat.ask(openid, "确认")
    match = CONFIRM.search(reply)
    assert match, reply
    return int(match.group(1))


def test_bare_dispatch_shows_the_form(factory, simulator, wechat):
    world = build_world(factory, simulator)
    reply = wechat.ask(world.school_openid, "派发")
    assert "标题：" in reply and "内容：" in reply and "范围" in reply


def test_every_field_error_is_listed_at_once(factory, simulator, wechat, db):
    world = build_world(factory, simulator)
    form = ("派发\n标题：" + "长" * 65 + "\n类型：宣讲\n届别：二六\n层次：本科,研究生\n范围：计算机学院,软件工程学院\n"
            "截止：2020-01-01 10:00\n链接：example.com\n保密：也许\n")
    reply = wechat.ask(world.school_openid, form)
    for needle in ("标题：最多64字", "类型：", "届别：", "研究生", "软件工程学院", "您是不是要找：软件学院",
                   "截止：", "链接：", "保密：", "内容：必填"):
        assert needle in reply, (needle, reply)
    assert reply.startswith("派发内容有 9 处需要修改") and "回复「确认」派发" not in reply
    assert reply.endswith("改好后请重新发送整条「派发」消息；回复「派发」查看格式。")
    assert db.scalar(select(Task.id)) is None


def test_live_task_needs_start_and_end(factory, simulator, wechat):
    world = build_world(factory, simulator)
    reply = wechat.ask(world.school_openid, "派发\n标题：直播\n类型：直播课\n届别：2026\n内容：看直播")
    assert "开始：直播课必须填写开始时间" in reply and "结束：直播课必须填写结束时间" in reply


def test_college_account_may_not_name_a_scope(factory, simulator, wechat):
    world = build_world(factory, simulator)
    reply = wechat.ask(world.college_openid, "派发\n标题：x\n类型：政策\n届别：2026\n范围：软件学院\n内容：y")
    assert "院级账号" in reply and "范围" in reply


def test_counselor_cannot_dispatch(factory, simulator, wechat):
    world = build_world(factory, simulator)
    reply = wechat.ask(world.openids["cs_ben"], FAIR_FORM.format(deadline=future()))
    assert "仅限各级工作人员" in reply


def test_preview_confirm_creates_task_with_fixed_recipients(factory, simulator, wechat, db):
    world = build_world(factory, simulator)
    preview = wechat.ask(world.school_openid, FAIR_FORM.format(deadline=future()))
    # 6 recipients; cs_unbound (no openid) and cs_unfollowed are 未触达.
    assert "接收辅导员 6 名，其中 2 名未触达" in preview, preview
    assert preview.rstrip().endswith("回复「确认」派发，「取消」放弃（10分钟内有效）")
    assert db.scalar(select(Task.id)) is None  # nothing written before 确认
    reply = wechat.ask(world.school_openid, "确认")
    match = CONFIRM.fullmatch(reply)
    assert match and match.group(2) == "6" and match.group(3) == "2", reply
    task_id = int(match.group(1))
    db.rollback()  # a new snapshot: MariaDB's repeatable read would show the old one
    task = db.get(Task, task_id)
    assert task.title == "2026届秋季双选会" and task.type == "招聘会" and task.cohort == 2026
    assert task.content == "双选会在体育馆举行。\n请提前通知学生携带简历。"
    assert task.level_list == ["本科", "硕士"] and task.recipient_count == 6
    got = set(db.scalars(select(TaskRecipient.account_id).where(TaskRecipient.task_id == task_id)))
    assert got == {world.counselors[k].id for k in RECIPIENTS}
    # The draft is gone: a second 确认 creates nothing.
    assert "没有待确认的派发" in wechat.ask(world.school_openid, "确认")
    db.rollback()
    assert db.query(Task).count() == 1


def test_cancel_drops_the_draft(factory, simulator, wechat, db):
    world = build_world(factory, simulator)
    wechat.ask(world.school_openid, FAIR_FORM.format(deadline=future()))
    assert "已取消" in wechat.ask(world.school_openid, "取消")
    assert "没有待确认的派发" in wechat.ask(world.school_openid, "确认")
    assert db.scalar(select(Task.id)) is None


def test_draft_expires_after_ten_minutes(factory, simulator, wechat, redis_conn):
    world = build_world(factory, simulator)
    wechat.ask(world.school_openid, FAIR_FORM.format(deadline=future()))
    key = f"fdy:dispatch:draft:{world.school_staff.id}"
    assert 590 <= redis_conn.ttl(key) <= 600
    redis_conn.delete(key)  # what the TTL does after 10 minutes
    assert "没有待确认的派发" in wechat.ask(world.school_openid, "确认")


def test_counselor_added_after_dispatch_does_not_get_it(factory, simulator, wechat, db, run_jobs):
    world = build_world(factory, simulator)
    task_id = dispatch(wechat, world.school_openid, FAIR_FORM.format(deadline=future()))
    late_openid = new_openid()
    simulator.add_user(late_openid)
    late = factory.counselor(world.colleges["计算机学院"], study_level="本科", cohorts=[2026], openid=late_openid)
    factory.commit()
    run_jobs()
    assert simulator.inbox(late_openid) == []
    assert db.scalar(select(TaskRecipient).where(TaskRecipient.account_id == late.id)) is None
    assert "没有找到派发给您的任务" in wechat.ask(late_openid, f"完成 {task_id}")
    assert f"已完成 0/6" in wechat.ask(world.school_openid, f"进度 {task_id}")


def test_end_to_end_school_and_college_figures(factory, simulator, wechat, db, run_jobs, monkeypatch):
    world = build_world(factory, simulator)
    start = datetime.now() + timedelta(days=2)
    live_form = (f"派发\n标题：就业政策直播课\n类型：直播课\n届别：2026\n层次：本科,硕士\n范围：计算机学院,软件学院\n"
                 f"开始：{start:%Y-%m-%d} 19:00\n结束：{start:%Y-%m-%d} 20:30\n内容：请准时观看。")
    task_id = dispatch(wechat, world.school_openid, live_form)
    run_jobs()

    # One template message to each reachable recipient, none elsewhere.
    for key in ("cs_ben", "cs_shuo", "sw_ben", "sw_shuo"):
        inbox = simulator.inbox(world.openids[key])
        assert len(inbox) == 1, key
        assert inbox[0]["url"].endswith(f"/tasks/{task_id}")
        assert inbox[0]["data"]["thing1"]["value"] == "就业政策直播课"
    for key in ("cs_unfollowed", "fl_ben", "cs_bo", "cs_2025"):
        assert simulator.inbox(world.openids[key]) == [], key
    assert simulator.stats()["deliveries"] == 4
    states = dict(db.execute(select(TaskRecipient.account_id, TaskRecipient.notify_state)
                             .where(TaskRecipient.task_id == task_id)).all())
    assert states[world.counselors["cs_unbound"].id] == "unreachable"
    assert states[world.counselors["cs_unfollowed"].id] == "unreachable"
    assert states[world.counselors["cs_ben"].id] == "sent"

    # Counselors complete and check in during the live window (clock moved, not slept).
    import models.clock as clockmod

    task = db.get(Task, task_id)
    monkeypatch.setattr(clockmod, "clock", lambda: task.live_start + timedelta(minutes=5))
    for key in ("cs_ben", "sw_ben"):
        assert "已完成" in wechat.ask(world.openids[key], f"完成 {task_id}")
        assert "签到成功" in wechat.ask(world.openids[key], f"签到 {task_id}")
    assert "已完成" in wechat.ask(world.openids["sw_shuo"], f"完成 {task_id}")  # completed, not checked in

    school_view = wechat.ask(world.school_openid, f"进度 {task_id}")
    assert "已完成 2/6" in school_view and "未触达 2" in school_view, school_view
    assert "计算机学院：已完成 1/4" in school_view and "软件学院：已完成 1/2" in school_view
    # The college sees only its own counselors (4 of the 6), issuer or not.
    college_view = wechat.ask(world.college_openid, f"进度 {task_id}")
    assert "已完成 1/4" in college_view and "未触达 2" in college_view, college_view
    assert "软件学院" not in college_view
    pending = wechat.ask(world.college_openid, f"未完成 {task_id}")
    assert "辅导员cs_shuo" in pending and "辅导员sw_shuo" not in pending
    # The college's task list shows the school's task with its own figures.
    listing = wechat.ask(world.college_openid, "任务")
    assert f"#{task_id}" in listing and "已完成 1/4" in listing
    # A college of another school sees nothing of it.
    other = factory.college(factory.school(), name="计算机学院")
    other_openid = new_openid()
    factory.staff(COLLEGE, other, openid=other_openid)
    factory.commit()
    assert "没有找到任务" in wechat.ask(other_openid, f"进度 {task_id}")
    assert f"#{task_id}" not in wechat.ask(other_openid, "任务")


def test_college_dispatch_reaches_only_its_counselors(factory, simulator, wechat, db, run_jobs):
    world = build_world(factory, simulator)
    form = "派发\n标题：院内通知\n类型：其他\n届别：2026\n内容：开会"
    task_id = dispatch(wechat, world.college_openid, form)
    got = set(db.scalars(select(TaskRecipient.account_id).where(TaskRecipient.task_id == task_id)))
    expected = {world.counselors[k].id for k in ("cs_ben", "cs_shuo", "cs_unbound", "cs_unfollowed", "cs_bo")}
    assert got == expected
    # The school sees the college's task with all of it (they are all in its school).
    assert "已完成 0/5" in wechat.ask(world.school_openid, f"进度 {task_id}")


def test_levels_limited_college_account(factory, simulator, wechat, db):
    world = build_world(factory, simulator)
    openid = new_openid()
    factory.staff(COLLEGE, world.colleges["计算机学院"], levels="硕士,博士", openid=openid)
    factory.commit()
    reply = wechat.ask(openid, "派发\n标题：x\n类型：政策\n届别：2026\n层次：本科\n内容：y")
    assert "不能派发给 本科" in reply
    preview = wechat.ask(openid, "派发\n标题：x\n类型：政策\n届别：2026\n内容：y")
    assert "接收辅导员 2 名" in preview  # cs_shuo and cs_bo


@pytest.mark.parametrize("text", ["派发\n标题:半角冒号\n类型:课程\n届别:2026\n内容:第一行\n第二行：带冒号",
                                  "派发\n标题：全角\n类型：就业课程\n届别：２０２６\n内容：正文"])
def test_both_colons_and_multiline_content(factory, simulator, wechat, db, text):
    world = build_world(factory, simulator)
    task_id = dispatch(wechat, world.school_openid, text)
    task = db.get(Task, task_id)
    assert task.type == "就业课程" and task.cohort == 2026
    if "半角" in text:
        assert task.content == "第一行\n第二行：带冒号"
