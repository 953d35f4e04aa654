"""Webhook hardening of issue 14 (SPEC 9.1, 10): a plain-mode signature carries one body only,
WECHAT_REQUIRE_AES=1 refuses plain POSTs, dedupe keys include the sender."""
from __future__ import annotations

from models.vocab import COLLEGE
from tests.wechat_client import new_openid, text_xml


def test_plain_signature_is_accepted_for_one_body_only(wechat):
    openid = new_openid()
    params = wechat.signed_params()
    genuine = text_xml(openid, "帮助", msg_id=424242001)
    first = wechat.post(genuine, params=params)
    assert first.status_code == 200 and "<xml" in first.text
    # The captured query string with another body (another sender, another message): refused.
    forged = wechat.post(text_xml(new_openid(), "解绑", msg_id=424242002), params=params)
    assert forged.status_code == 403
    # The same body again is WeChat retrying: answered as the first time.
    retry = wechat.post(genuine, params=params)
    assert retry.status_code == 200 and retry.text == first.text


def test_require_aes_refuses_plain_posts(app, wechat, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_REQUIRE_AES", True)
    openid = new_openid()
    assert wechat.post(text_xml(openid, "帮助")).status_code == 403
    resp = wechat.post(text_xml(openid, "帮助"), encrypted=True)
    safe = wechat.parse(resp, encrypted=True)
    assert safe.status == 200 and "绑定" in safe.content


def test_require_aes_is_read_from_the_environment():
    import config

    assert config.load_config({"FDY_ENV": "testing", "WECHAT_REQUIRE_AES": "1"}).WECHAT_REQUIRE_AES is True
    assert config.load_config({"FDY_ENV": "testing"}).WECHAT_REQUIRE_AES is False


def test_another_users_msgid_does_not_get_their_cached_reply(wechat, factory):
    staff_openid = new_openid()
    factory.staff(COLLEGE, factory.college(name="去重学院"), openid=staff_openid)
    factory.commit()
    msg_id = 777000111
    staff_reply = \
        wechat.parse(wechat.post(text_xml(staff_openid, "帮助", msg_id=msg_id))).content
    assert "派发" in staff_reply
    stranger = wechat.parse(wechat.post(text_xml(new_openid(), "帮助", msg_id=msg_id))).content
    assert stranger != staff_reply and "派发" not in stranger and "绑定" in stranger
