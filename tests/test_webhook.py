"""The hardened webhook through a real HTTP server: signatures, safe mode,
hostile bodies, dedupe, handler errors."""
from __future__ import annotations

import logging
import time

import pytest

from tests import wechat_crypto
from tests.wechat_client import new_openid, text_xml


def test_get_verification_echoes_only_when_signed(wechat):
    params = wechat.signed_params()
    ok = wechat.http.get(wechat.base_url + "/wechat", params=dict(params, echostr="hello123"))
    assert ok.status_code == 200 and ok.text == "hello123"
    bad = wechat.http.get(wechat.base_url + "/wechat", params=dict(params, signature="0" * 40, echostr="x"))
    assert bad.status_code == 403 and "x" not in bad.text
    stale = wechat.signed_params(timestamp=int(time.time()) - 301)
    assert wechat.http.get(wechat.base_url + "/wechat", params=dict(stale, echostr="x")).status_code == 403


def test_plain_text_gets_help_for_unbound_user(wechat):
    reply = wechat.text(new_openid(), "帮助")
    assert reply.status == 200
    assert reply.msg_type == "text"
    assert "绑定" in reply.content
    assert reply.fields["ToUserName"].startswith("o")


def test_aes_message_gets_encrypted_reply(wechat):
    openid = new_openid()
    resp = wechat.post(text_xml(openid, "帮助"), encrypted=True)
    assert resp.status_code == 200
    assert "<Encrypt>" in resp.text and "帮助" not in resp.text
    assert resp.headers["Content-Type"].startswith("application/xml")
    reply = wechat.parse(resp, encrypted=True)
    assert reply.fields["ToUserName"] == openid
    assert "绑定" in reply.content


def test_plain_and_aes_requests_interleave(wechat):
    # Safe mode is per request: an AES request must not make the next plain one encrypted.
    assert wechat.parse(wechat.post(text_xml(new_openid(), "帮助"), encrypted=True), encrypted=True).content
    plain = wechat.post(text_xml(new_openid(), "帮助"))
    assert "<Encrypt>" not in plain.text and "<Content>" in plain.text


def test_aes_refused_when_safe_mode_not_configured(app, wechat):
    app.config["WECHAT_AES_KEY"] = None
    try:
        resp = wechat.post(text_xml(new_openid(), "帮助"), encrypted=True)
    finally:
        app.config["WECHAT_AES_KEY"] = wechat.aes_key
    assert resp.status_code == 400


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&lol4;</Content><MsgId>1</MsgId></xml>"""

XXE = """<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>2</MsgId></xml>"""


@pytest.mark.parametrize("body, expected", [
    ("<xml><ToUserName>a</ToUserName><FromUser", 400),
    ("not xml at all", 400),
    ("<notxml/>", 400),
    (BILLION_LAUGHS, 400),
    (XXE, 400),
    (b"<xml><Content>\xff\xfe</Content></xml>", 400),
    ("<xml><MsgType>text</MsgType></xml>", 400),
])
def test_hostile_bodies_get_4xx(wechat, body, expected):
    resp = wechat.post(body)
    assert resp.status_code == expected
    assert "Traceback" not in resp.text and "root" not in resp.text


def test_oversized_body_refused(wechat):
    big = text_xml(new_openid(), "x" * (1024 * 1024))
    assert wechat.post(big).status_code == 413


def test_bad_signatures_and_stale_timestamps(wechat):
    xml = text_xml(new_openid(), "帮助")
    params = wechat.signed_params()
    assert wechat.post(xml, params=dict(params, signature="f" * 40)).status_code == 403
    assert wechat.post(xml, params={k: v for k, v in params.items() if k != "signature"}).status_code == 403
    stale = wechat.signed_params(timestamp=int(time.time()) - 3600)
    assert wechat.post(xml, params=stale).status_code == 403
    future = wechat.signed_params(timestamp=int(time.time()) + 3600)
    assert wechat.post(xml, params=future).status_code == 403
    assert wechat.post(xml, params=dict(params, timestamp="soon")).status_code in (400, 403)


def test_bad_msg_signature_refused(wechat):
    enc = wechat_crypto.encrypt(text_xml(new_openid(), "帮助"), wechat.aes_key, wechat.app_id)
    params = dict(wechat.signed_params(), encrypt_type="aes", msg_signature="0" * 40)
    body = f"<xml><Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
    assert wechat.post(body, params=params).status_code == 403
    # Encrypted for another app id: decrypts, but must be refused.
    other = wechat_crypto.encrypt(text_xml(new_openid(), "帮助"), wechat.aes_key, "wxsomeoneelse")
    params = wechat.signed_params()
    params.update(encrypt_type="aes",
                  msg_signature=wechat_crypto.sha1_signature(wechat.token, params["timestamp"], params["nonce"], other))
    assert wechat.post(f"<xml><Encrypt><![CDATA[{other}]]></Encrypt></xml>", params=params).status_code == 400


def test_wrong_method(wechat):
    assert wechat.http.put(wechat.base_url + "/wechat").status_code == 405


@pytest.fixture
def counted_handler(app):
    """A handler put first in line for 'dedupe-probe', counting its runs."""
    robot = app.extensions["fdy.robot"]
    runs = []

    def probe(message):
        if message.content == "dedupe-probe":
            runs.append(message.message_id)
            time.sleep(0.2)
            return f"第{len(runs)}次处理"
        if message.content == "boom":
            raise RuntimeError("handler blew up")
        return None

    robot._handlers["text"].insert(0, (probe, 1))
    yield runs
    robot._handlers["text"].remove((probe, 1))


def test_same_msgid_three_times_is_handled_once(wechat, counted_handler):
    xml = text_xml(new_openid(), "dedupe-probe", msg_id=987654321012345)
    replies = [wechat.post(xml).text for _ in range(3)]
    assert len(counted_handler) == 1
    assert replies[0] == replies[1] == replies[2]
    assert "第1次处理" in replies[0]


def test_concurrent_retries_wait_for_first_reply(wechat, counted_handler):
    from concurrent.futures import ThreadPoolExecutor

    xml = text_xml(new_openid(), "dedupe-probe", msg_id=123123123123)
    with ThreadPoolExecutor(3) as pool:
        replies = list(pool.map(lambda _: wechat.post(xml).text, range(3)))
    assert len(counted_handler) == 1
    assert len(set(replies)) == 1 and "第1次处理" in replies[0]


def stored_reply(redis_conn, openid: str, msg_id: int, wait: float = 1.0) -> bytes | None:
    from bot.dedupe import PENDING, dedupe_key

    key = dedupe_key({"FromUserName": openid, "MsgId": str(msg_id), "MsgType": "text"})
    deadline = time.monotonic() + wait
    while True:
        value = redis_conn.get(key)
        if (value is not None and value != PENDING) or time.monotonic() > deadline:
            return value


def test_reply_is_stored_without_waiting_for_a_later_message(wechat, counted_handler, redis_conn):
    # bot/dedupe.py's ReplyWriter reads Redis's OK only before its next SET: the SET itself must
    # still reach Redis at once, or a retry would find the key pending and get an empty answer.
    openid = new_openid()
    reply = wechat.post(text_xml(openid, "dedupe-probe", msg_id=555000111)).text
    assert stored_reply(redis_conn, openid, 555000111) == reply.encode()


def test_reply_store_replaces_a_connection_redis_closed(wechat, counted_handler, redis_conn, monkeypatch):
    from bot import dedupe

    wechat.post(text_xml(new_openid(), "dedupe-probe", msg_id=555000222))
    # As after a pause (Redis's `timeout` closes idle clients): every other connection is gone,
    # and a write into a closed socket does not fail. The paused writer confirms its SET.
    monkeypatch.setattr(dedupe, "CONFIRM_AFTER_IDLE", 0.0)
    redis_conn.client_kill_filter(_type="normal", skipme=True)
    openid = new_openid()
    reply = wechat.post(text_xml(openid, "dedupe-probe", msg_id=555000333)).text
    assert "第2次处理" in reply
    assert stored_reply(redis_conn, openid, 555000333, wait=0) == reply.encode()


def test_claim_survives_redis_forgetting_its_scripts(wechat, counted_handler, redis_conn):
    redis_conn.script_flush()  # as after a Redis restart: the claim's EVALSHA finds no script
    xml = text_xml(new_openid(), "dedupe-probe", msg_id=555000444)
    replies = [wechat.post(xml).text for _ in range(2)]
    assert len(counted_handler) == 1 and replies[0] == replies[1]


def test_same_msgid_from_two_senders_gets_each_its_own_reply(wechat, counted_handler):
    # SPEC 10: dedupe keys include the sender. A second user with the first one's MsgId (a
    # replay, a forgery) is handled as its own message, never answered from the first's reply.
    first, second = new_openid(), new_openid()
    a = wechat.send(text_xml(first, "dedupe-probe", msg_id=555000555))
    b = wechat.send(text_xml(second, "dedupe-probe", msg_id=555000555))
    assert (a.fields["ToUserName"], b.fields["ToUserName"]) == (first, second)
    assert len(counted_handler) == 2 and "第1次处理" in a.content and "第2次处理" in b.content


def test_event_retries_deduped_by_sender_time_event_key(wechat):
    openid = new_openid()
    first = wechat.event(openid, "subscribe", create_time=1700000000)
    again = wechat.event(openid, "subscribe", create_time=1700000000)
    assert first.body == again.body and "感谢关注" in first.content


def test_repeated_events_with_new_create_time_are_each_handled(wechat, app):
    """subscribe, unsubscribe, subscribe again within ten minutes (inside the dedupe window):
    three events, three changes; a late retry of the unsubscribe (its own CreateTime) changes nothing."""
    from models import Follower, db

    def following(openid):
        with app.app_context():
            return db.session.get(Follower, openid).following

    openid = new_openid()
    t0 = int(time.time())
    assert "感谢关注" in wechat.event(openid, "subscribe", create_time=t0).content
    assert following(openid) is True
    assert wechat.event(openid, "unsubscribe", create_time=t0 + 60).body == "success"
    assert following(openid) is False
    assert "感谢关注" in wechat.event(openid, "subscribe", create_time=t0 + 540).content
    assert following(openid) is True
    assert wechat.event(openid, "unsubscribe", create_time=t0 + 60).body == "success"  # WeChat's retry
    assert following(openid) is True


def test_handler_exception_is_logged_and_user_gets_apology(wechat, counted_handler, caplog):
    with caplog.at_level(logging.ERROR):
        reply = wechat.text(new_openid(), "boom")
    assert reply.status == 200
    assert "抱歉" in reply.content
    assert any("handler failed" in r.getMessage() and r.exc_info for r in caplog.records)
    assert "RuntimeError" not in reply.body


def test_subscribe_and_unsubscribe_update_follower(wechat, app):
    from models import Follower, db

    openid = new_openid()
    assert "感谢关注" in wechat.event(openid, "subscribe").content
    gone = wechat.event(openid, "unsubscribe")
    assert gone.status == 200 and gone.body == "success"
    with app.app_context():
        follower = db.session.get(Follower, openid)
        assert follower is not None and follower.following is False and follower.unsubscribed_at


def test_healthz(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "database": "ok", "redis": "ok", "workers": 0, "failed": 0,
                               "queues": {"sms": 0, "high": 0, "notify": 0, "default": 0, "bulk": 0}}
