"""Users' own words (SPEC 6, 7): the platform's names as commands, T12/#12/12, bare 完成/签到,
help per level, near misses, 确定 after a preview, and what students who follow the account see."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from models.vocab import COLLEGE, COUNSELOR, MINISTRY, PROVINCE, SCHOOL
from tests.test_dispatch import FAIR_FORM, build_world, future
from tests.test_task_commands import make_task
from tests.wechat_client import new_openid

# What a reply says when the sender's level may not use the command it sent.
REFUSALS = ("仅限", "只能由", "只能在服务器上", "没有看懂", "您是不是要发", "不在您管理")


@pytest.fixture
def world(factory, simulator):
    return build_world(factory, simulator)


def test_platform_names_are_the_commands(world, wechat, db):
    make_task(db, world.school_staff, title="就业数据核查")
    counselor, staff = world.openids["cs_ben"], world.school_openid
    assert wechat.ask(counselor, "我的任务") == wechat.ask(counselor, "任务")
    assert wechat.ask(counselor, "查看就业进展情况") == wechat.ask(counselor, "进展")
    assert wechat.ask(staff, "辅导员触达情况") == wechat.ask(staff, "触达")
    assert wechat.ask(staff, "关注绑定情况") == wechat.ask(staff, "触达")
    assert wechat.ask(staff, "用户管理") == wechat.ask(staff, "账号")
    mine = wechat.ask(counselor, "我的信息")
    account = world.counselors["cs_ben"]
    assert account.name in mine and f"登录账号：{account.phone}" in mine and "/auth/forgot" in mine
    assert "2026届" in mine and "示范大学 · 计算机学院" in mine


def test_task_numbers_as_printed_anywhere(world, wechat, db):
    task = make_task(db, world.school_staff, title="简历指导")
    counselor, staff = world.openids["cs_ben"], world.school_openid
    detail = wechat.ask(counselor, f"任务 {task.id}")
    assert f"任务 #{task.id}" in detail
    for spelled in (f"T{task.id}", f"#{task.id}", f"t{task.id}", f"任务 T{task.id}", f"任务 #{task.id}"):
        assert wechat.ask(counselor, spelled) == detail, spelled
    assert "已完成" in wechat.ask(counselor, f"完成 T{task.id}")
    assert "已完成" in wechat.ask(counselor, f"完成 #{task.id}") and "无需重复" in wechat.ask(counselor, f"完成 {task.id}")
    progress = wechat.ask(staff, f"进度 {task.id}")
    assert wechat.ask(staff, f"进度 T{task.id}") == progress == wechat.ask(staff, f"进度 #{task.id}")
    # A bare number: the reply names the command to send.
    assert f"「任务 {task.id}」" in wechat.ask(counselor, str(task.id))


def test_bare_complete_and_checkin_list_the_candidates(world, wechat, db):
    plain = make_task(db, world.school_staff, title="填报去向")
    start = datetime.utcnow() + timedelta(days=2)
    live = make_task(db, world.school_staff, title="直播课一", type="就业创业直播课", live_start=start,
                     live_end=start + timedelta(hours=1))
    counselor = world.openids["cs_ben"]
    for text in ("完成", "完成了"):
        reply = wechat.ask(counselor, text)
        assert f"#{plain.id} 填报去向" in reply and f"#{live.id}" in reply and "「完成 " in reply, reply
    reply = wechat.ask(counselor, "签到")
    assert f"#{live.id} 直播课一" in reply and f"#{plain.id} " not in reply and f"签到 {live.id}" in reply
    wechat.ask(counselor, f"完成 {plain.id}")
    assert f"#{plain.id} " not in wechat.ask(counselor, "完成")
    # Staff: 进度 without its number lists the tasks it could mean.
    reply = wechat.ask(world.school_openid, "进度")
    assert f"#{live.id}" in reply and f"进度 {live.id}" in reply


def test_typos_get_the_command_they_meant(world, wechat, db):
    task = make_task(db, world.school_staff, title="就业指导")
    counselor = world.openids["cs_ben"]
    assert wechat.ask(counselor, f"完城 {task.id}").startswith(f"您是不是要发「完成 {task.id}」？")
    assert wechat.ask(counselor, "任物").startswith("您是不是要发「任务」？")
    assert wechat.ask(counselor, "进展情况啊").startswith("您是不是要发「进展」？")
    # Only what the level may use is suggested: a counselor is never pointed at 进度.
    assert "进度" not in wechat.ask(counselor, f"进渡 {task.id}")
    assert wechat.ask(world.school_openid, f"进渡 {task.id}").startswith(f"您是不是要发「进度 {task.id}」？")


def test_okay_after_a_preview_means_confirm(world, wechat):
    staff = world.school_openid
    assert "已派发任务" not in wechat.ask(staff, "好的")  # nothing to confirm: not a command
    for word in ("确定", "好的", "OK"):
        preview = wechat.ask(staff, FAIR_FORM.format(deadline=future()))
        assert "回复「确认」派发" in preview
        assert wechat.ask(staff, word).startswith("已派发任务 #"), word



def _one_of_each_level(factory, simulator) -> dict[str, str]:
    province = factory.province(name="江苏省")
    school = factory.school(province, name="东湖大学")
    college = factory.college(school, name="计算机学院")
    units = {MINISTRY: factory.ministry(), PROVINCE: province, SCHOOL: school, COLLEGE: college}
    openids = {}
    for level, unit in units.items():
        openids[level] = new_openid()
        factory.staff(level, unit, openid=openids[level])
    openids[COUNSELOR] = new_openid()
    factory.counselor(college, openid=openids[COUNSELOR], cohorts=[2026])
    factory.commit()
    for openid in openids.values():
        simulator.add_user(openid)
    return openids


def test_help_offers_only_what_the_level_can_use(factory, simulator, wechat):
    openids = _one_of_each_level(factory, simulator)
    offered = {}
    for level, openid in openids.items():
        help_text = wechat.ask(openid, "帮助")
        examples = re.findall(r"^(.+?) —— ", help_text, flags=re.M)
        assert examples, help_text
        offered[level] = examples
        for example in [e for e in examples if e != "解绑"] + ["解绑"]:
            reply = wechat.ask(openid, example)
            assert not [r for r in REFUSALS if r in reply], (level, example, reply)
    assert "添加学校账号 李强 13800000000 东湖大学" in offered[PROVINCE]
    assert not [e for e in offered[COLLEGE] if e.startswith(("添加学校账号", "添加省级账号", "添加院系账号"))]
    assert not [e for e in offered[COUNSELOR] if e.startswith(("进度", "派发", "添加"))]
    assert not [e for e in offered[SCHOOL] if e.startswith(("完成", "进展", "添加省级账号"))]


def test_students_who_follow_get_the_accounts_answers(wechat, simulator):
    student = new_openid()
    simulator.add_user(student)
    for reply in (wechat.event(student, "subscribe").content, wechat.ask(student, "你好")):
        assert "24365" in reply and "「辅导员」" in reply
        assert "绑定 手机号" not in reply and "验证码" not in reply and "尚未绑定" not in reply


def test_a_dead_code_says_when_a_new_one_can_be_asked_for(factory, simulator, wechat):
    college = factory.college()
    account = factory.counselor(college)
    factory.commit()
    openid = new_openid()
    simulator.add_user(openid)
    assert "验证码已发送" in wechat.ask(openid, f"绑定 {account.phone}")
    for _ in range(4):
        assert "还可尝试" in wechat.ask(openid, "000000")
    dead = wechat.ask(openid, "000000")
    wait = re.search(r"请 (\d+) 秒后重新获取", dead)
    assert wait, dead
    again = wechat.ask(openid, f"绑定 {account.phone}")
    told = re.search(r"请 (\d+) 秒后再试", again)
    assert told and abs(int(told.group(1)) - int(wait.group(1))) <= 2, (dead, again)
