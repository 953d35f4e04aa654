"""Questions in users' own words get the FAQ's answer; commands stay commands (SPEC 6).

The question set (tests/data/faq_questions.py) is sent through the webhook as the user it names;
a hit is the reply being the answer of the expected FAQ entry. The hit rate is printed (`-s`)."""
from __future__ import annotations

import re
from collections import Counter

import pytest

from faq import book
from handlers import common
from handlers.questions import NO_ANSWER
from menus.data import all_menus
from tests.data.faq_questions import QUESTIONS
from tests.test_dispatch import FAIR_FORM, build_world
from tests.test_dispatch import future
from tests.test_task_commands import make_task
from tests.wechat_client import new_openid

MIN_HIT_RATE = 0.95


@pytest.fixture
def world(factory, simulator):
    return build_world(factory, simulator)


def _asker(world, simulator, role: str) -> str:
    if role == "counselor":
        return world.openids["cs_ben"]
    if role == "staff":
        return world.school_openid
    openid = new_openid()
    simulator.add_user(openid)
    return openid


def test_the_faq_file_answers_its_own_examples():
    faq = book()
    for entry in faq.entries:
        assert entry.questions and entry.answer and entry.roles
        for question in entry.questions:
            match = faq.best(question, entry.roles[0])
            assert match is not None and match.entry.id == entry.id, (question, match and match.entry.id)


def test_question_set_is_big_enough_and_covers_every_topic():
    assert len(QUESTIONS) >= 60
    per_topic = Counter(expected for _q, expected, _role in QUESTIONS)
    ids = {entry.id for entry in book().entries}
    assert set(per_topic) == ids
    assert min(per_topic.values()) >= 4, per_topic
    examples = {q for entry in book().entries for q in entry.questions}
    assert not examples & {q for q, _e, _r in QUESTIONS}, "the test set must not repeat the file's examples"


def test_questions_get_their_answer_through_the_webhook(world, wechat, simulator, capsys):
    answers = {entry.id: entry.answer for entry in book().entries}
    misses = []
    for question, expected, role in QUESTIONS:
        reply = wechat.ask(_asker(world, simulator, role), question)
        if reply != answers[expected]:
            misses.append((question, expected, reply[:60]))
    rate = 1 - len(misses) / len(QUESTIONS)
    with capsys.disabled():
        print(f"\nFAQ hit rate: {len(QUESTIONS) - len(misses)}/{len(QUESTIONS)} = {rate:.1%}")
        for miss in misses:
            print("  missed:", *miss)
    assert rate >= MIN_HIT_RATE, misses


def test_commands_stay_commands(world, wechat, db, simulator):
    task = make_task(db, world.school_staff, title="填报毕业去向")
    counselor, staff = world.openids["cs_ben"], world.school_openid
    stranger = new_openid()
    simulator.add_user(stranger)
    # (who, message, what the command's own reply contains)
    cases = [
        (counselor, "任务", "填报毕业去向"),
        (counselor, f"任务 {task.id}", f"任务 #{task.id}"),
        (counselor, f"T{task.id}", f"任务 #{task.id}"),
        (counselor, f"#{task.id}", f"任务 #{task.id}"),
        (counselor, "我的任务", "填报毕业去向"),
        (counselor, f"完成 T{task.id}", "已完成"),
        (counselor, f"完成 #{task.id}", "已完成"),
        (counselor, "进展", "落实率"),
        (counselor, "查看就业进展情况", "落实率"),
        (counselor, "毕业生", "毕业生信息"),
        (counselor, "我的信息", "登录账号"),
        (counselor, "诊断", "诊断结果"),
        (counselor, "帮助", "辅导员可用命令"),
        (staff, f"进度 {task.id}", "已完成"),
        (staff, f"未完成 T{task.id}", f"任务 #{task.id}"),
        (staff, "辅导员触达情况", "您管理的辅导员"),
        (staff, "用户管理", "下级账号"),
        (staff, "添加辅导员 张明 13800000000 计算机学院 本科 软件工程 2026", "辅导员"),
        (staff, FAIR_FORM.format(deadline=future()).replace("内容：", "内容：有问题怎么办？请问"), "回复「确认」派发"),
        (stranger, f"绑定 {world.counselors['cs_unbound'].phone}", "验证码已发送"),
    ]
    assert len(cases) >= 20
    answers = {entry.answer for entry in book().entries}
    for openid, text, needle in cases:
        reply = wechat.ask(openid, text)
        assert reply not in answers and reply != NO_ANSWER, (text, reply)
        assert "没有看懂" not in reply and "您是不是要发" not in reply, (text, reply)
        assert needle in reply, (text, reply)


def test_a_command_word_inside_a_question_gets_the_answer(world, wechat, simulator):
    stranger = new_openid()
    simulator.add_user(stranger)
    reply = wechat.ask(stranger, "绑定微信的时候提示操作频繁被禁止了怎么办？")
    assert "手机号" not in reply.split("\n")[0] and "频繁" not in reply.split("\n")[0]
    assert reply == next(e.answer for e in book().entries if e.id == "too_many")
    # A question about a command that the FAQ does not cover: said so, with where to go next.
    reply = wechat.ask(world.school_openid, "添加辅导员怎么这么麻烦呢")
    assert reply == NO_ANSWER and "请反馈至学校就业服务中心" in reply and "「帮助」" in reply


def test_no_match_offers_help_and_the_service_centre(world, wechat):
    reply = wechat.ask(world.openids["cs_ben"], "食堂今天几点开门？")
    assert "请反馈至学校就业服务中心" in reply and "「帮助」" in reply


def test_answers_only_name_commands_that_exist(app):
    """A reply never advises a command that then fails: every 「…」 in an answer is a command word,
    a menu button or the login page's 忘记密码 button."""
    buttons = set()
    for menu in all_menus(app.config).values():
        for top in menu:
            buttons.add(top["name"])
            buttons |= {sub["name"] for sub in top.get("sub_button", [])}
    known = common.COMMAND_WORDS | {line.example.split(" ")[0] for line in common.HELP_LINES.values()}
    for entry in book().entries:
        for quoted in re.findall(r"「([^」]+)」", entry.answer):
            word = quoted.split(" ")[0]
            assert word in known or quoted in buttons or quoted == "忘记密码", (entry.id, quoted)


def test_a_long_question_is_answered(world, wechat):
    text = "验证码收不到怎么办？" + "啊" * 20000
    assert wechat.ask(world.openids["cs_ben"], text) == next(e.answer for e in book().entries if e.id == "sms")
