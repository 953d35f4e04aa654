"""Binding in chat, end to end through the simulator and the webhook (SPEC 2):
each outcome of the phone-A rule, the SMS caps with time travel, the 2 h
password lock, one openid <-> one identity, role tags through jobs."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

import models.binding as binding
from models import Identity, SmsCode, SmsOutbox
from models.sms import full_text
from tests.factories import PASSWORD
from tests.wechat_client import new_openid


def fresh(db) -> None:
    """See what the live server committed: end this session's transaction (MariaDB's
    REPEATABLE READ keeps a snapshot until then) and reload objects."""
    db.commit()
    db.expire_all()


def say(simulator, openid: str, text: str) -> str:
    """A WeChat user types `text` in the simulator; returns the app's passive reply."""
    result = simulator.send(openid, text=text)
    assert result["error"] is None, result
    assert result["content"], f"no reply to {text!r}: {result}"
    return result["content"]


def last_code(db, phone: str) -> str:
    fresh(db)
    row = db.scalar(select(SmsOutbox).where(SmsOutbox.phone == phone).order_by(SmsOutbox.id.desc()).limit(1))
    assert row is not None, "no SMS in the outbox"
    return re.search(r"\d{6}", full_text(row)).group(0)


def sms_count(db, phone: str) -> int:
    fresh(db)
    return len(db.scalars(select(SmsOutbox).where(SmsOutbox.phone == phone)).all())


def bound_openid(db, phone: str) -> str | None:
    fresh(db)
    return db.scalar(select(Identity.openid).where(Identity.phone == phone))


def role_tag_ids(simulator) -> dict[str, int]:
    return {t["name"]: t["id"] for t in simulator.state.tags.values()}


@pytest.fixture
def travel(monkeypatch):
    """Time travel for the binding rules: travel.now is what models.binding.clock() returns."""

    class Clock:
        now = datetime(2026, 5, 1, 2, 0, 0)

        def __call__(self):
            return self.now

        def advance(self, **delta):
            self.now += timedelta(**delta)

    clock = Clock()
    monkeypatch.setattr(binding, "clock", clock)
    return clock


# -- the phone-A outcomes --------------------------------------------------------------
def test_bound_and_found_then_tagged(factory, db, simulator, live_server, run_jobs):
    college = factory.college()
    counselor = factory.counselor(college, name="李老师")
    factory.commit()
    openid = simulator.add_user()["openid"]

    reply = say(simulator, openid, "绑定 " + counselor.phone)
    assert "验证码已发送" in reply and counselor.phone[-4:] in reply
    assert counselor.phone not in reply  # masked
    code = last_code(db, counselor.phone)

    reply = say(simulator, openid, code)
    assert "绑定成功" in reply and "李老师" in reply
    assert bound_openid(db, counselor.phone) == openid
    assert "辅导员可用命令" in say(simulator, openid, "帮助")

    run_jobs()
    tags = role_tag_ids(simulator)
    assert simulator.state.get_user(openid)["tagid_list"] == [tags["辅导员"]]
    assert simulator.calls("/cgi-bin/tags/members/batchtagging")


def test_case1_identity_without_platform_account(factory, db, simulator, live_server):
    identity = factory.identity("13912345678", name="王老师")
    factory.commit()
    openid = simulator.add_user()["openid"]

    say(simulator, openid, "绑定 13912345678")
    reply = say(simulator, openid, last_code(db, identity.phone))
    assert "账号不存在" in reply and "上级管理员" in reply and "139****5678" in reply
    assert bound_openid(db, identity.phone) == openid
    # A command that needs an account now gets the 账号不存在 text, not the help.
    assert "账号不存在" in say(simulator, openid, "任务")


def test_case1_no_identity_no_account_sends_no_sms(factory, db, simulator, live_server):
    openid = simulator.add_user()["openid"]
    reply = say(simulator, openid, "绑定 13700001111")
    assert "账号不存在" in reply and "创建" in reply
    assert sms_count(db, "13700001111") == 0


def test_case2_then_unbind_and_rebind(factory, db, simulator, live_server, run_jobs):
    openid = simulator.add_user()["openid"]
    factory.identity("13600002222", openid=openid)  # identity B, no platform account
    college = factory.college()
    counselor = factory.counselor(college)  # account + identity with phone A
    factory.commit()

    reply = say(simulator, openid, "绑定 " + counselor.phone)
    assert "账号不存在" in reply and "尾号2222" in reply and "解绑" in reply
    assert sms_count(db, counselor.phone) == 0

    reply = say(simulator, openid, "解绑")
    assert "已解除" in reply and "2222" in reply
    assert bound_openid(db, "13600002222") is None

    say(simulator, openid, "绑定 " + counselor.phone)
    assert "绑定成功" in say(simulator, openid, last_code(db, counselor.phone))
    assert bound_openid(db, counselor.phone) == openid
    run_jobs()
    assert simulator.state.get_user(openid)["tagid_list"] == [role_tag_ids(simulator)["辅导员"]]


def test_unbind_removes_the_role_tag(factory, db, simulator, live_server, run_jobs):
    openid = simulator.add_user()["openid"]
    staff = factory.staff("school", factory.school(), openid=openid)
    factory.commit()
    say(simulator, openid, "解绑")
    say(simulator, openid, "绑定 " + staff.phone)
    say(simulator, openid, last_code(db, staff.phone))
    run_jobs()
    assert simulator.state.get_user(openid)["tagid_list"] == [role_tag_ids(simulator)["工作人员"]]

    assert "已解除" in say(simulator, openid, "解绑")
    run_jobs()
    assert simulator.state.get_user(openid)["tagid_list"] == []
    assert "尚未绑定" in say(simulator, openid, "任务")


def test_not_following_user_is_not_tagged_and_diagnosed(factory, db, simulator, live_server, run_jobs):
    from models.diagnosis import NOT_FOLLOWING, diagnose

    openid = simulator.add_user()["openid"]
    college = factory.college()
    factory.counselor(college, openid=openid)
    factory.commit()
    result = simulator.send(openid, event="unsubscribe")
    assert result["error"] is None

    fresh(db)
    verdict = diagnose(db, openid)
    assert verdict.outcome == NOT_FOLLOWING
    assert "✘ 4." in verdict.text() and "未关注公众号" in verdict.text()

    from jobs.tags import enqueue_sync

    enqueue_sync(openid)
    run_jobs()
    assert not simulator.calls("/cgi-bin/tags/members/batchtagging")

    # Following again puts the user back in reach.
    assert "感谢关注" in simulator.send(openid, event="subscribe")["content"]
    fresh(db)
    assert diagnose(db, openid).ok


# -- binding rules ------------------------------------------------------------------------
def test_identity_binds_one_openid_a_new_wechat_takes_over(factory, db, simulator, live_server, run_jobs):
    old = simulator.add_user()["openid"]
    college = factory.college()
    counselor = factory.counselor(college, openid=old)
    factory.commit()
    new = simulator.add_user()["openid"]

    say(simulator, new, "绑定 " + counselor.phone)
    reply = say(simulator, new, last_code(db, counselor.phone))
    assert "绑定成功" in reply and "原先绑定的另一个微信已自动解绑" in reply
    assert bound_openid(db, counselor.phone) == new
    assert "尚未绑定" in say(simulator, old, "任务")


def test_already_bound_same_phone(factory, db, simulator, live_server):
    openid = simulator.add_user()["openid"]
    counselor = factory.counselor(factory.college(), openid=openid)
    factory.commit()
    assert "无需重复绑定" in say(simulator, openid, "绑定 " + counselor.phone)


def test_bad_input_and_unexpected_digits(factory, db, simulator, live_server):
    openid = simulator.add_user()["openid"]
    assert "格式不正确" in say(simulator, openid, "绑定 12345")
    assert "绑定 13800000000" in say(simulator, openid, "绑定")
    # Six digits with no code pending are not a binding reply: the help answers.
    assert "没有看懂" in say(simulator, openid, "123456")
    assert "没有绑定任何账号" in say(simulator, openid, "解绑")


def test_full_width_phone_and_code(factory, db, simulator, live_server):
    counselor = factory.counselor(factory.college())
    factory.commit()
    openid = simulator.add_user()["openid"]
    wide = counselor.phone.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    assert "验证码已发送" in say(simulator, openid, "绑定　" + wide)
    code = last_code(db, counselor.phone).translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    assert "绑定成功" in say(simulator, openid, code)


# -- SMS codes, caps and time travel ---------------------------------------------------
def test_only_a_hash_of_the_code_is_stored(factory, db, simulator, live_server):
    counselor = factory.counselor(factory.college())
    factory.commit()
    openid = simulator.add_user()["openid"]
    say(simulator, openid, "绑定 " + counselor.phone)
    code = last_code(db, counselor.phone)
    row = db.scalar(select(SmsCode).where(SmsCode.phone == counselor.phone))
    assert row.code_hash != code and code not in row.code_hash and len(row.code_hash) == 64


def test_code_expires_after_5_minutes(factory, db, simulator, live_server, travel):
    counselor = factory.counselor(factory.college())
    factory.commit()
    openid = simulator.add_user()["openid"]
    say(simulator, openid, "绑定 " + counselor.phone)
    code = last_code(db, counselor.phone)
    travel.advance(minutes=5, seconds=1)
    assert "已过期" in say(simulator, openid, code)
    assert bound_openid(db, counselor.phone) is None


def test_resend_gap_and_newest_code_replaces_older(factory, db, simulator, live_server, travel):
    counselor = factory.counselor(factory.college())
    factory.commit()
    openid = simulator.add_user()["openid"]
    say(simulator, openid, "绑定 " + counselor.phone)
    first = last_code(db, counselor.phone)
    travel.advance(seconds=30)
    reply = say(simulator, openid, "绑定 " + counselor.phone)
    assert "过于频繁" in reply and "31 秒" in reply
    travel.advance(seconds=31)
    assert "验证码已发送" in say(simulator, openid, "绑定 " + counselor.phone)
    second = last_code(db, counselor.phone)
    if first != second:
        assert "验证码不正确" in say(simulator, openid, first)
    assert "绑定成功" in say(simulator, openid, second)


def test_wrong_code_five_times_kills_it(factory, db, simulator, live_server):
    counselor = factory.counselor(factory.college())
    factory.commit()
    openid = simulator.add_user()["openid"]
    say(simulator, openid, "绑定 " + counselor.phone)
    code = last_code(db, counselor.phone)
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    for left in (4, 3, 2, 1):
        assert f"还可尝试{left}次" in say(simulator, openid, wrong)
    assert "已失效" in say(simulator, openid, wrong)
    assert "没有看懂" in say(simulator, openid, code)  # no code pending any more
    assert bound_openid(db, counselor.phone) is None


def test_sms_cap_eleventh_code_refused_for_24_hours(factory, db, simulator, live_server, travel):
    counselor = factory.counselor(factory.college())
    factory.commit()
    openid = simulator.add_user()["openid"]
    start = travel.now
    for _ in range(10):
        assert "验证码已发送" in say(simulator, openid, "绑定 " + counselor.phone)
        travel.advance(seconds=61)
    assert say(simulator, openid, "绑定 " + counselor.phone) == binding.CAP_MESSAGE
    assert sms_count(db, counselor.phone) == 10

    travel.now = start + timedelta(hours=23, minutes=59)
    assert say(simulator, openid, "绑定 " + counselor.phone) == binding.CAP_MESSAGE
    travel.now = start + timedelta(hours=24, seconds=1)  # the first code left the window
    assert "验证码已发送" in say(simulator, openid, "绑定 " + counselor.phone)
    assert "绑定成功" in say(simulator, openid, last_code(db, counselor.phone))


def test_strangers_do_not_spend_the_owners_allowance(factory, db, simulator, live_server, travel):
    """Each requester has its own 10 codes a day for a phone (SPEC 10); all of them together
    at most PHONE_CEILING (SMS bombing)."""
    from models.send_limits import PHONE_CEILING, PER_REQUESTER_CAP

    counselor = factory.counselor(factory.college())
    factory.commit()
    stranger = simulator.add_user()["openid"]
    for _ in range(PER_REQUESTER_CAP):
        assert "验证码已发送" in say(simulator, stranger, "绑定 " + counselor.phone)
        travel.advance(seconds=61)
    assert say(simulator, stranger, "绑定 " + counselor.phone) == binding.CAP_MESSAGE
    owner = simulator.add_user()["openid"]
    assert "验证码已发送" in say(simulator, owner, "绑定 " + counselor.phone)
    assert "绑定成功" in say(simulator, owner, last_code(db, counselor.phone))
    for _ in range(PHONE_CEILING - PER_REQUESTER_CAP - 1):
        say(simulator, simulator.add_user()["openid"], "绑定 " + counselor.phone)
        travel.advance(seconds=1)
    assert sms_count(db, counselor.phone) == PHONE_CEILING
    assert binding.CAP_MESSAGE in say(simulator, simulator.add_user()["openid"], "绑定 " + counselor.phone)


def test_http_sms_gateway_is_used_from_a_job(app, factory, db, simulator, live_server, run_jobs):
    counselor = factory.counselor(factory.college())
    factory.commit()
    openid = simulator.add_user()["openid"]
    app.config.update(SMS_BACKEND="http", SMS_HTTP_URL=simulator.url + "/_sim/sms")
    try:
        assert "验证码已发送" in say(simulator, openid, "绑定 " + counselor.phone)
        assert simulator.sms(phone=counselor.phone) == []  # not sent inside the webhook
        run_jobs()
        sent = simulator.sms(phone=counselor.phone)
        assert len(sent) == 1
        code = re.search(r"\d{6}", sent[0]["content"]).group(0)
        assert "绑定成功" in say(simulator, openid, code)
    finally:
        app.config.update(SMS_BACKEND="console", SMS_HTTP_URL=None)


def test_http_sms_gateway_down_tells_the_user(app, factory, db, simulator, live_server, run_jobs):
    counselor = factory.counselor(factory.college())
    factory.commit()
    openid = simulator.add_user()["openid"]
    simulator.add_faults({"path": "/_sim/sms", "status": 503, "times": 5})
    app.config.update(SMS_BACKEND="http", SMS_HTTP_URL=simulator.url + "/_sim/sms")
    try:
        say(simulator, openid, "绑定 " + counselor.phone)
        run_jobs()
    finally:
        app.config.update(SMS_BACKEND="console", SMS_HTTP_URL=None)
    assert any("发送失败" in m["content"] for m in simulator.inbox(openid))
    fresh(db)
    # The code that never arrived neither counts nor stays pending.
    assert db.scalar(select(SmsCode).where(SmsCode.phone == counselor.phone)) is None


# -- password binding and its lock -------------------------------------------------------
def test_password_lock_after_5_wrong_for_2_hours(app, factory, db, travel):
    counselor = factory.counselor(factory.college())
    factory.commit()
    openid = new_openid()
    for left in (4, 3, 2, 1):
        outcome = binding.bind_with_password(db, openid, counselor.phone, "wrong-password")
        assert outcome.kind == "wrong_password" and f"还可尝试{left}次" in outcome.message
    outcome = binding.bind_with_password(db, openid, counselor.phone, "wrong-password")
    assert outcome.kind == "locked"
    # 02:00 UTC + 2 h = 12:00 in Beijing.
    assert "2026-05-01 12:00（北京时间）" in outcome.message

    travel.advance(hours=1, minutes=59)
    outcome = binding.bind_with_password(db, openid, counselor.phone, PASSWORD)
    assert outcome.kind == "locked", "the right password does not lift the lock early"
    travel.advance(minutes=1, seconds=1)
    outcome = binding.bind_with_password(db, openid, counselor.identity.username, PASSWORD)
    assert outcome.ok and outcome.kind == "bound"


def test_password_failures_must_be_in_a_row(app, factory, db):
    counselor = factory.counselor(factory.college())
    factory.commit()
    openid = new_openid()
    for _ in range(4):
        binding.bind_with_password(db, openid, counselor.phone, "nope")
    assert binding.bind_with_password(db, openid, counselor.phone, PASSWORD).ok
    binding.unbind(db, openid)
    for _ in range(4):
        assert binding.bind_with_password(db, openid, counselor.phone, "nope").kind == "wrong_password"


def test_password_binding_refuses_case2(app, factory, db):
    openid = new_openid()
    factory.identity("13600003333", openid=openid)
    counselor = factory.counselor(factory.college())
    factory.commit()
    outcome = binding.bind_with_password(db, openid, counselor.phone, PASSWORD)
    assert not outcome.ok and outcome.kind == "case2"
    assert "账号不存在" in outcome.message and "尾号3333" in outcome.message and "解绑" in outcome.message


def test_reset_password_by_sms_code(app, factory, db, travel):
    counselor = factory.counselor(factory.college())
    factory.commit()
    assert binding.request_reset_code(db, counselor.phone).kind == "sent"
    code = last_code(db, counselor.phone)
    assert binding.reset_password(db, counselor.phone, code, "short").kind == "weak_password"
    assert binding.reset_password(db, counselor.phone, code, "NewPassw0rd").ok
    assert not binding.reset_password(db, counselor.phone, code, "NewPassw0rd").ok  # single use
    assert binding.bind_with_password(db, new_openid(), counselor.phone, "NewPassw0rd").ok
    # The same caps as binding codes.
    travel.advance(seconds=10)
    assert binding.request_reset_code(db, counselor.phone).kind == "too_soon"


def test_account_without_identity_gets_one_on_sms_binding(factory, db, simulator, live_server):
    college = factory.college()
    counselor = factory.counselor(college, with_identity=False)
    factory.commit()
    openid = simulator.add_user()["openid"]
    assert "验证码已发送" in say(simulator, openid, "绑定 " + counselor.phone)
    assert "绑定成功" in say(simulator, openid, last_code(db, counselor.phone))
    fresh(db)
    identity = db.scalar(select(Identity).where(Identity.phone == counselor.phone))
    assert identity.openid == openid and counselor.identity_id == identity.id


def test_role_tag_follows_account_changes_made_elsewhere(factory, db, simulator, live_server, run_jobs):
    """Case 1 fixed by the superior: the already bound user gets its tag on its next message."""
    openid = simulator.add_user()["openid"]
    factory.identity("13566667777", openid=openid)
    factory.commit()
    say(simulator, openid, "帮助")
    run_jobs()
    assert simulator.state.get_user(openid)["tagid_list"] == []

    account = factory.counselor(factory.college(), phone="13566667777", with_identity=False)
    factory.commit()
    say(simulator, openid, "帮助")
    run_jobs()
    tags = role_tag_ids(simulator)
    assert simulator.state.get_user(openid)["tagid_list"] == [tags["辅导员"]]
    batch_calls = len(simulator.calls("/cgi-bin/tags/members/batchtagging"))
    say(simulator, openid, "帮助")  # in step now: nothing queued
    run_jobs()
    assert len(simulator.calls("/cgi-bin/tags/members/batchtagging")) == batch_calls

    account.deactivate()
    factory.commit()
    from bot.store import get_redis
    from jobs.tags import RECHECK_KEY

    get_redis().delete(RECHECK_KEY + openid)  # the 10-minute guard, as if it had passed
    say(simulator, openid, "帮助")
    run_jobs()
    assert simulator.state.get_user(openid)["tagid_list"] == []
