"""SMS senders (SPEC 2): the http backend against the simulator's gateway, retries, the console outbox,
and the two identity texts sent when a platform account is created."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from models import Identity, SmsOutbox
from tests.conftest import make_config
from tests.factories import hash_password, next_phone


@pytest.fixture
def http_app(app, database_url, redis_url, simulator):
    """A second app on the same database whose SMS go to the simulator over HTTP."""
    from bot.app import create_app

    application = create_app(make_config(database_url, redis_url, simulator.url, SMS_BACKEND="http",
                                         SMS_HTTP_URL=simulator.url + "/_sim/sms"))
    yield application
    application.extensions["fdy.db"].engine.dispose()


def _ministry(session):
    from models import account_rules as rules

    phone = next_phone()
    res = rules.add_ministry_account(session, name="周敏", phone=phone)
    assert res.ok, res.reasons
    return res.account


def test_http_backend_sends_both_identity_texts(http_app, simulator):
    from models import account_rules as rules
    from models import db

    with http_app.app_context():
        session = db.session
        province = _make_province(session)
        ministry = _ministry(session)
        new_phone, old_phone = next_phone(), next_phone()
        session.add(Identity(username="wang_old", phone=old_phone, name="王芳", password_hash=hash_password("x")))
        session.commit()
        assert rules.add_province_account(session, ministry, name="陈华", phone=new_phone, province=province.name,
                                          notify="now").ok
        assert rules.add_province_account(session, ministry, name="王芳", phone=old_phone, province=province.name,
                                          notify="now").ok

        credentials = simulator.sms(phone=new_phone)
        assert len(credentials) == 1
        assert f"账号：{new_phone}" in credentials[0]["content"] and "初始密码：" in credentials[0]["content"]
        existing = simulator.sms(phone=old_phone)
        assert [m["content"] for m in existing] == ["温馨提示：您的账号已存在，请使用原账号密码进行登录（账号：wang_old）"]
        # The ministry account's own credentials went out the same way.
        assert "初始密码" in simulator.sms(phone=ministry.phone)[0]["content"]
        rows = session.scalars(select(SmsOutbox).where(SmsOutbox.phone.in_([new_phone, old_phone]))).all()
        assert {(r.backend, r.status) for r in rows} == {("http", "sent")}
        calls = [c for c in simulator.calls("/_sim/sms") if (c["json"] or {}).get("phone") == old_phone]
        assert calls and set(calls[0]["json"]) == {"phone", "content"}


def _make_province(session):
    from models.units import ensure_ministry
    from models.units import create_unit

    unit = create_unit(session, "province", "甲省", ensure_ministry(session))
    session.commit()
    return unit


def test_http_gateway_retries_then_succeeds(http_app, simulator):
    from models import db
    from models.sms import send_sms

    phone = next_phone()
    simulator.add_faults({"path": "/_sim/sms", "status": 503, "times": 2})
    with http_app.app_context():
        row = send_sms(phone, "测试短信")
        assert row.status == "sent"
        assert db.session.get(SmsOutbox, row.id).status == "sent"
    assert [m["content"] for m in simulator.sms(phone=phone)] == ["测试短信"]


def test_http_gateway_down_records_failure_but_keeps_account(http_app, simulator, caplog):
    from models import Account
    from models import db
    from models.sms import SmsError, send_sms

    caplog.set_level(logging.INFO)
    phone = next_phone()
    simulator.add_faults({"path": "/_sim/sms", "status": 500, "times": 6})
    with http_app.app_context():
        with pytest.raises(SmsError):
            send_sms(phone, "验证码 123456")
        row = db.session.scalar(select(SmsOutbox).where(SmsOutbox.phone == phone))
        assert row.status == "failed" and "HTTP 500" in row.error
        # An account is still created when its SMS fails; the reply says so.
        from models import account_rules as rules

        res = rules.add_ministry_account(db.session, name="周敏", phone=(other := next_phone()))
        assert res.ok and "短信发送失败" in res.message
        assert db.session.scalar(select(Account).where(Account.active_phone == other)) is not None
    assert simulator.sms(phone=phone) == []
    assert phone not in caplog.text and "123456" not in caplog.text
    assert f"{phone[:3]}****{phone[-4:]}" in caplog.text


def test_console_backend_writes_outbox_and_masked_log(app, db, caplog):
    from models.sms import send_sms

    caplog.set_level(logging.INFO)
    phone = next_phone()
    row = send_sms(phone, "您的验证码是 654321")
    assert (row.backend, row.status) == ("console", "sent") and row.sent_at is not None
    assert db.get(SmsOutbox, row.id).content == "您的验证码是 654321"
    assert phone not in caplog.text and "654321" not in caplog.text
    assert f"outbox #{row.id}" in caplog.text


def test_queued_sms_is_sent_by_a_job_once(app, db, run_jobs):
    from jobs.sms import deliver_later
    from models.sms import queue_sms

    phone = next_phone()
    row = queue_sms(db, phone, "稍后发送")
    db.commit()
    deliver_later(row.id)
    deliver_later(row.id)  # same job id: queued once
    assert db.get(SmsOutbox, row.id).status == "pending"
    run_jobs()
    db.rollback()  # a new snapshot: MariaDB's REPEATABLE READ hides other sessions' commits
    db.expire_all()  # (rollback outside a transaction expires nothing)
    assert db.get(SmsOutbox, row.id).status == "sent"
