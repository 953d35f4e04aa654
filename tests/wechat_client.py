"""A WeChat server stand-in for tests: signs (and optionally encrypts) messages
and posts them to the app over real HTTP, then parses the reply."""
from __future__ import annotations

import itertools
import random
import string
import time
from dataclasses import dataclass
from xml.sax.saxutils import escape

import requests
import xmltodict

from tests import wechat_crypto

_msg_ids = itertools.count(random.randint(10**15, 9 * 10**15))


def new_openid() -> str:
    return "o" + "".join(random.choices(string.ascii_letters + string.digits + "-_", k=27))


def text_xml(openid: str, content: str, msg_id: int | None = None, create_time: int | None = None) -> str:
    return (
        "<xml><ToUserName><![CDATA[gh_fdy]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{escape(content)}</Content>"
        f"<MsgId>{msg_id or next(_msg_ids)}</MsgId></xml>"
    )


def event_xml(openid: str, event: str, key: str | None = None, create_time: int | None = None,
              extra: str = "") -> str:
    key_xml = f"<EventKey><![CDATA[{key}]]></EventKey>" if key is not None else ""
    return (
        "<xml><ToUserName><![CDATA[gh_fdy]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event>{key_xml}{extra}</xml>"
    )


@dataclass
class Reply:
    status: int
    body: str
    fields: dict | None

    @property
    def content(self) -> str | None:
        return (self.fields or {}).get("Content")

    @property
    def msg_type(self) -> str | None:
        return (self.fields or {}).get("MsgType")


class WeChatServer:
    def __init__(self, base_url: str, token: str, app_id: str, aes_key: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.app_id = app_id
        self.aes_key = aes_key
        self.http = requests.Session()

    def signed_params(self, timestamp: int | None = None, nonce: str | None = None) -> dict:
        timestamp = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce or str(random.randint(10**8, 10**9))
        return {"timestamp": timestamp, "nonce": nonce,
                "signature": wechat_crypto.sha1_signature(self.token, timestamp, nonce)}

    def post(self, xml: str | bytes, encrypted: bool = False, params: dict | None = None,
             headers: dict | None = None) -> requests.Response:
        query = params if params is not None else self.signed_params()
        body = xml.encode("utf-8") if isinstance(xml, str) else xml
        if encrypted:
            enc = wechat_crypto.encrypt(body.decode("utf-8"), self.aes_key, self.app_id)
            query = dict(query, encrypt_type="aes",
                         msg_signature=wechat_crypto.sha1_signature(self.token, query["timestamp"], query["nonce"], enc))
            body = f"<xml><ToUserName><![CDATA[gh_fdy]]></ToUserName><Encrypt><![CDATA[{enc}]]></Encrypt></xml>".encode()
        return self.http.post(self.base_url + "/wechat", params=query, data=body,
                              headers=headers or {"Content-Type": "text/xml"}, timeout=10)

    def parse(self, resp: requests.Response, encrypted: bool = False) -> Reply:
        body = resp.text
        if resp.status_code != 200 or not body.strip().startswith("<xml"):
            return Reply(resp.status_code, body, None)
        fields = xmltodict.parse(body)["xml"]
        if encrypted:
            expected = wechat_crypto.sha1_signature(self.token, fields["TimeStamp"], fields["Nonce"], fields["Encrypt"])
            assert expected == fields["MsgSignature"], "reply signature does not verify"
            inner, app_id = wechat_crypto.decrypt(fields["Encrypt"], self.aes_key)
            assert app_id == self.app_id
            fields = xmltodict.parse(inner)["xml"]
        return Reply(resp.status_code, body, fields)

    def send(self, xml: str, encrypted: bool = False) -> Reply:
        return self.parse(self.post(xml, encrypted=encrypted), encrypted=encrypted)

    def text(self, openid: str, content: str, encrypted: bool = False, msg_id: int | None = None) -> Reply:
        return self.send(text_xml(openid, content, msg_id=msg_id), encrypted=encrypted)

    def ask(self, openid: str, content: str) -> str:
        """Send a text and return the reply's text (asserting there is one)."""
        reply = self.text(openid, content)
        assert reply.status == 200 and reply.content is not None, f"no text reply: {reply.status} {reply.body[:200]}"
        return reply.content

    def event(self, openid: str, event: str, key: str | None = None, **kwargs) -> Reply:
        return self.send(event_xml(openid, event, key, **kwargs))
