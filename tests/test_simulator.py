"""Tests of the WeChat simulator alone (no fdy app involved)."""
from __future__ import annotations

import base64
import hashlib
import threading
import time
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask, request
from werkzeug.serving import WSGIRequestHandler, make_server
from werobot.crypto import MessageCrypt

from simulator import SimulatorServer, create_sim_app
from tests.reliability import wait_for

TOKEN = "testtoken123"
APP_ID = "wxtest00000000001"
SECRET = "testsecret"
AES_KEY = base64.b64encode(bytes(range(32))).decode()[:-1]  # 43 chars


# ---------------------------------------------------------------------- a tiny app
def _sig(*parts):
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class _Quiet(WSGIRequestHandler):
    def log_request(self, *a, **k):
        pass


class EchoApp:
    """Stands in for the fdy webhook: checks signatures, answers 'echo: ...'."""

    def __init__(self):
        self.received: list[dict] = []
        self.errors: list[str] = []
        self.crypt = MessageCrypt(TOKEN, AES_KEY, APP_ID)
        app = Flask("echo")

        @app.get("/wechat")
        def verify():
            a = request.args
            if _sig(TOKEN, a["timestamp"], a["nonce"]) != a["signature"]:
                return "bad signature", 403
            return a["echostr"]

        @app.post("/wechat")
        def wechat():
            a = request.args
            if _sig(TOKEN, a["timestamp"], a["nonce"]) != a["signature"]:
                self.errors.append("bad signature")
                return "bad signature", 403
            body = request.get_data(as_text=True)
            encrypted = a.get("encrypt_type") == "aes"
            if encrypted:
                enc = ET.fromstring(body).findtext("Encrypt")
                if _sig(TOKEN, a["timestamp"], a["nonce"], enc) != a["msg_signature"]:
                    self.errors.append("bad msg_signature")
                    return "bad msg_signature", 403
                body = self.crypt.decrypt_message(a["timestamp"], a["nonce"],
                                                  a["msg_signature"], enc).decode()
            root = ET.fromstring(body)
            msg = {c.tag: c.text for c in root}
            msg["_encrypted"] = encrypted
            msg["_openid_param"] = a.get("openid")
            self.received.append(msg)
            if msg["MsgType"] == "text":
                content = "echo: " + msg["Content"]
            elif msg.get("Event") == "TEMPLATESENDJOBFINISH":
                return "success"
            else:
                content = "event: " + msg["Event"] + ":" + (msg.get("EventKey") or "")
            reply = (f"<xml><ToUserName><![CDATA[{msg['FromUserName']}]]></ToUserName>"
                     f"<FromUserName><![CDATA[{msg['ToUserName']}]]></FromUserName>"
                     f"<CreateTime>{int(time.time())}</CreateTime>"
                     f"<MsgType><![CDATA[text]]></MsgType>"
                     f"<Content><![CDATA[{content}]]></Content></xml>")
            if encrypted:
                reply = self.crypt.encrypt_message(reply)
            return reply, 200, {"Content-Type": "application/xml"}

        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def echo():
    e = EchoApp()
    yield e
    e.stop()


@pytest.fixture(scope="module")
def _sim(echo):
    sim = SimulatorServer(app_url=echo.url, token=TOKEN, app_id=APP_ID, app_secret=SECRET,
                          aes_key=AES_KEY)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def sim(_sim, echo):
    requests.post(_sim.url + "/_sim/reset").raise_for_status()
    _sim.state.update_config({"receipts": False, "receipt_delay": 0, "app_url": echo.url})
    echo.received.clear()
    echo.errors.clear()
    return _sim


def get_token(sim):
    r = requests.get(sim.url + "/cgi-bin/token", params={
        "grant_type": "client_credential", "appid": APP_ID, "secret": SECRET})
    return r.json()["access_token"]


def api(sim, method, path, tok, **kw):
    r = requests.request(method, sim.url + path, params={"access_token": tok,
                                                         **kw.pop("params", {})}, **kw)
    return r


def new_user(sim, **kw):
    r = requests.post(sim.url + "/_sim/users", json=kw)
    assert r.status_code == 201
    return r.json()


# ---------------------------------------------------------------------- tests
def test_token_grant_and_stale_token(sim):
    bad = requests.get(sim.url + "/cgi-bin/token", params={
        "grant_type": "client_credential", "appid": "nope", "secret": SECRET}).json()
    assert bad["errcode"] == 40013
    bad = requests.get(sim.url + "/cgi-bin/token", params={
        "grant_type": "client_credential", "appid": APP_ID, "secret": "nope"}).json()
    assert bad["errcode"] == 40125

    t1 = requests.get(sim.url + "/cgi-bin/token", params={
        "grant_type": "client_credential", "appid": APP_ID, "secret": SECRET}).json()
    assert t1["expires_in"] == 7200 and t1["access_token"]
    assert api(sim, "GET", "/cgi-bin/tags/get", t1["access_token"]).json() == {"tags": []}
    t2 = get_token(sim)
    assert t2 != t1["access_token"]
    stale = api(sim, "GET", "/cgi-bin/tags/get", t1["access_token"]).json()
    assert stale["errcode"] == 40001
    assert "access_token is invalid or not latest" in stale["errmsg"]
    assert api(sim, "GET", "/cgi-bin/tags/get", "garbage").json()["errcode"] == 40001
    assert api(sim, "GET", "/cgi-bin/tags/get", t2).json() == {"tags": []}
    stats = requests.get(sim.url + "/_sim/stats").json()
    assert stats["token_grants"] == 2
    assert stats["paths"]["/cgi-bin/token"] == 4


def test_template_send_duplicates_and_follow_rules(sim):
    tok = get_token(sim)
    u = new_user(sim, nickname="张老师")
    assert u["openid"].startswith("o") and len(u["openid"]) == 28
    body = {"touser": u["openid"], "template_id": "TPL1", "url": "http://x/tasks/1",
            "data": {"first": {"value": "新任务"}, "keyword1": {"value": "双选会"}},
            "client_msg_id": "task-1-u1-dispatch"}
    r1 = api(sim, "POST", "/cgi-bin/message/template/send", tok, json=body).json()
    assert r1["errcode"] == 0 and isinstance(r1["msgid"], int)
    r2 = api(sim, "POST", "/cgi-bin/message/template/send", tok, json=body).json()
    assert r2 == r1
    other = dict(body, client_msg_id="task-1-u1-reminder")
    r3 = api(sim, "POST", "/cgi-bin/message/template/send", tok, json=other).json()
    assert r3["errcode"] == 0 and r3["msgid"] != r1["msgid"]

    inbox = requests.get(f"{sim.url}/_sim/inbox/{u['openid']}").json()
    assert [m["kind"] for m in inbox] == ["template", "template"]
    assert inbox[0]["data"]["first"]["value"] == "新任务" and inbox[0]["url"] == "http://x/tasks/1"
    assert requests.get(f"{sim.url}/_sim/inbox/{u['openid']}",
                        params={"since": inbox[0]["seq"]}).json()[0]["msgid"] == r3["msgid"]
    calls = requests.get(sim.url + "/_sim/calls",
                         params={"path": "/cgi-bin/message/template"}).json()
    assert [c.get("duplicate") for c in calls] == [False, True, False]
    assert sum(1 for c in calls if c.get("delivered")) == 2
    assert calls[0]["json"]["touser"] == u["openid"]
    stats = requests.get(sim.url + "/_sim/stats").json()
    assert stats["deliveries"] == 2 and stats["duplicates"] == 1

    requests.patch(f"{sim.url}/_sim/users/{u['openid']}", json={"subscribe": False})
    r = api(sim, "POST", "/cgi-bin/message/template/send", tok,
            json=dict(body, client_msg_id="x2")).json()
    assert r["errcode"] == 43004 and r["errmsg"] == "require subscribe"
    r = api(sim, "POST", "/cgi-bin/message/template/send", tok,
            json=dict(body, touser="o" + "x" * 27)).json()
    assert r["errcode"] == 40003

    # custom message
    u2 = new_user(sim)
    r = api(sim, "POST", "/cgi-bin/message/custom/send", tok,
            json={"touser": u2["openid"], "msgtype": "text", "text": {"content": "菜单已发布"}})
    assert r.json() == {"errcode": 0, "errmsg": "ok"}
    assert sim.inbox(u2["openid"])[0]["content"] == "菜单已发布"
    r = api(sim, "POST", "/cgi-bin/message/custom/send", tok,
            json={"touser": u["openid"], "msgtype": "text", "text": {"content": "x"}})
    assert r.json()["errcode"] == 43004


def test_fault_rules(sim):
    tok = get_token(sim)
    u = new_user(sim)
    v = new_user(sim)
    send = {"touser": u["openid"], "template_id": "T", "data": {}}
    path = "/cgi-bin/message/template/send"

    r = requests.post(sim.url + "/_sim/faults", json={"rules": [
        {"path": path, "errcode": 45009, "times": 1}]})
    assert r.json()["ok"]
    assert api(sim, "POST", path, tok, json=send).json()["errcode"] == 45009
    assert api(sim, "POST", path, tok, json=send).json()["errcode"] == 0

    # per-openid rule, forever until cleared
    requests.post(sim.url + "/_sim/faults", json={"rules": [
        {"path": path, "openid": v["openid"], "errcode": 43004}]})
    for _ in range(2):
        assert api(sim, "POST", path, tok,
                   json=dict(send, touser=v["openid"])).json()["errcode"] == 43004
    assert api(sim, "POST", path, tok, json=send).json()["errcode"] == 0
    requests.delete(sim.url + "/_sim/faults")
    assert api(sim, "POST", path, tok, json=dict(send, touser=v["openid"])).json()["errcode"] == 0

    # HTTP 5xx
    requests.post(sim.url + "/_sim/faults", json={"rules": [{"path": path, "status": 503,
                                                             "times": 2}]})
    assert api(sim, "POST", path, tok, json=send).status_code == 503
    assert api(sim, "POST", path, tok, json=send).status_code == 503
    assert api(sim, "POST", path, tok, json=send).json()["errcode"] == 0

    # delay, then a normal answer
    requests.post(sim.url + "/_sim/faults", json={"rules": [{"path": path, "delay": 0.3,
                                                             "times": 1}]})
    t0 = time.monotonic()
    assert api(sim, "POST", path, tok, json=send).json()["errcode"] == 0
    assert time.monotonic() - t0 >= 0.3
    api(sim, "POST", path, tok, json=send)
    assert "fault" not in sim.state.calls[-1] and sim.state.calls[-1]["path"] == path  # one call only

    # 40001 makes the current token stale for good
    requests.post(sim.url + "/_sim/faults", json={"rules": [{"errcode": 40001, "times": 1}]})
    assert api(sim, "GET", "/cgi-bin/tags/get", tok).json()["errcode"] == 40001
    assert api(sim, "GET", "/cgi-bin/tags/get", tok).json()["errcode"] == 40001
    tok2 = get_token(sim)
    assert api(sim, "GET", "/cgi-bin/tags/get", tok2).json() == {"tags": []}

    faulted = [c for c in sim.calls(path) if c.get("fault")]
    assert len(faulted) == 6
    assert requests.get(sim.url + "/_sim/faults").json() == []


def test_oauth_flow(sim):
    u = new_user(sim)
    params = {"appid": APP_ID, "redirect_uri": "http://app.local/auth/cb?next=%2Ftasks%2F3",
              "response_type": "code", "scope": "snsapi_base", "state": "st4te"}
    # no user selected
    r = requests.get(sim.url + "/connect/oauth2/authorize", params=params, allow_redirects=False)
    assert r.status_code == 400 and "选择" in r.text
    # by cookie, as the chat page sets it
    r = requests.get(sim.url + "/connect/oauth2/authorize", params=params,
                     cookies={"sim_openid": u["openid"]}, allow_redirects=False)
    assert r.status_code == 302
    loc = urlsplit(r.headers["Location"])
    q = parse_qs(loc.query)
    assert loc.netloc == "app.local" and loc.path == "/auth/cb"
    assert q["next"] == ["/tasks/3"] and q["state"] == ["st4te"]
    code = q["code"][0]

    def exchange(c, **over):
        p = {"appid": APP_ID, "secret": SECRET, "code": c, "grant_type": "authorization_code"}
        p.update(over)
        return requests.get(sim.url + "/sns/oauth2/access_token", params=p).json()

    assert exchange(code, secret="bad")["errcode"] == 40125
    got = exchange(code)
    assert got["openid"] == u["openid"] and got["scope"] == "snsapi_base"
    assert got["expires_in"] == 7200 and got["access_token"] and got["refresh_token"]
    again = exchange(code)
    assert again == {"errcode": 40163, "errmsg": "code been used"}
    assert exchange("nonsense")["errcode"] == 40029
    # query param wins; code expiry
    r = requests.get(sim.url + "/connect/oauth2/authorize",
                     params=dict(params, sim_openid=u["openid"]), allow_redirects=False)
    code2 = parse_qs(urlsplit(r.headers["Location"]).query)["code"][0]
    with sim.state.lock:
        sim.state.oauth_codes[code2]["expires"] = time.time() - 1
    assert exchange(code2)["errcode"] == 40029


def test_tags_and_menus(sim):
    tok = get_token(sim)
    a, b = new_user(sim), new_user(sim)
    r = api(sim, "POST", "/cgi-bin/tags/create", tok, json={"tag": {"name": "辅导员"}}).json()
    tid = r["tag"]["id"]
    assert r["tag"]["name"] == "辅导员"
    assert api(sim, "POST", "/cgi-bin/tags/create", tok,
               json={"tag": {"name": "辅导员"}}).json()["errcode"] == 45157
    r = api(sim, "POST", "/cgi-bin/tags/members/batchtagging", tok,
            json={"openid_list": [a["openid"]], "tagid": tid}).json()
    assert r["errcode"] == 0
    tags = api(sim, "GET", "/cgi-bin/tags/get", tok).json()["tags"]
    assert tags == [{"id": tid, "name": "辅导员", "count": 1}]
    info = api(sim, "GET", "/cgi-bin/user/info", tok,
               params={"openid": a["openid"], "lang": "zh_CN"}).json()
    assert info["subscribe"] == 1 and info["tagid_list"] == [tid] and info["nickname"]

    # menus
    assert sim.state.menu_for(a["openid"]) is None
    too_many = {"button": [{"type": "click", "name": f"b{i}", "key": "K"} for i in range(4)]}
    assert api(sim, "POST", "/cgi-bin/menu/create", tok, json=too_many).json()["errcode"] == 40016
    long_name = {"button": [{"type": "click", "name": "登录绑定登录绑定登录", "key": "K"}]}
    assert api(sim, "POST", "/cgi-bin/menu/create", tok,
               json=long_name).json()["errcode"] == 40018
    default = {"button": [{"type": "click", "name": "诊断", "key": "DIAG"},
                          {"name": "更多", "sub_button": [
                              {"type": "view", "name": "登录绑定", "url": "http://x/auth"}]}]}
    counselor = {"button": [{"type": "click", "name": "我的任务", "key": "TASKS"}],
                 "matchrule": {"tag_id": str(tid)}}
    assert api(sim, "POST", "/cgi-bin/menu/addconditional", tok,
               json=counselor).json()["errcode"] == 65303
    assert api(sim, "POST", "/cgi-bin/menu/create", tok, json=default).json()["errcode"] == 0
    menuid = api(sim, "POST", "/cgi-bin/menu/addconditional", tok, json=counselor).json()["menuid"]
    got = api(sim, "GET", "/cgi-bin/menu/get", tok).json()
    assert got["menu"]["button"] == default["button"]
    assert got["conditionalmenu"][0]["menuid"] == menuid
    ma = requests.get(f"{sim.url}/_sim/menu/{a['openid']}").json()["menu"]
    mb = requests.get(f"{sim.url}/_sim/menu/{b['openid']}").json()["menu"]
    assert ma["button"][0]["key"] == "TASKS" and ma["conditional"]
    assert mb["button"][0]["key"] == "DIAG" and not mb["conditional"]

    api(sim, "POST", "/cgi-bin/tags/members/batchuntagging", tok,
        json={"openid_list": [a["openid"]], "tagid": tid})
    assert requests.get(f"{sim.url}/_sim/menu/{a['openid']}").json()["menu"]["button"][0][
        "key"] == "DIAG"
    assert api(sim, "POST", "/cgi-bin/menu/delconditional", tok,
               json={"menuid": menuid}).json()["errcode"] == 0
    assert api(sim, "GET", "/cgi-bin/menu/delete", tok).json()["errcode"] == 0
    assert api(sim, "GET", "/cgi-bin/menu/get", tok).json()["errcode"] == 46003
    assert requests.get(f"{sim.url}/_sim/menu/{a['openid']}").json() == {"menu": None}


def test_send_plain_and_encrypted(sim, echo):
    u = new_user(sim, subscribe=False)
    r = requests.post(sim.url + "/_sim/send", json={"openid": u["openid"],
                                                    "event": "subscribe"}).json()
    assert r["status"] == 200 and r["content"] == "event: subscribe:"
    assert sim.state.get_user(u["openid"])["subscribe"] is True

    r = requests.post(sim.url + "/_sim/send", json={"openid": u["openid"], "text": "任务"}).json()
    assert r["status"] == 200 and r["reply_type"] == "text" and r["content"] == "echo: 任务"
    assert r["elapsed_ms"] >= 0 and "echo: 任务" in r["raw"]
    msg = echo.received[-1]
    assert msg["MsgType"] == "text" and msg["FromUserName"] == u["openid"]
    assert int(msg["MsgId"]) == r["msg_id"] and not msg["_encrypted"]
    assert abs(int(msg["CreateTime"]) - time.time()) < 5
    assert msg["_openid_param"] == u["openid"]

    r = requests.post(sim.url + "/_sim/send", json={"openid": u["openid"], "text": "完成 3",
                                                    "encrypted": True}).json()
    assert r["status"] == 200 and r["content"] == "echo: 完成 3" and r["encrypted"]
    assert "<Encrypt>" in r["raw"]
    assert echo.received[-1]["_encrypted"] and echo.received[-1]["Content"] == "完成 3"

    # a WeChat retry: same MsgId
    r2 = requests.post(sim.url + "/_sim/send", json={"openid": u["openid"], "text": "完成 3",
                                                     "msg_id": r["msg_id"]}).json()
    assert int(echo.received[-1]["MsgId"]) == r["msg_id"] == r2["msg_id"]

    r = requests.post(sim.url + "/_sim/send", json={"openid": u["openid"], "event": "CLICK",
                                                    "event_key": "DIAG"}).json()
    assert r["content"] == "event: CLICK:DIAG"
    r = requests.post(sim.url + "/_sim/send", json={"openid": u["openid"],
                                                    "event": "unsubscribe"}).json()
    assert sim.state.get_user(u["openid"])["subscribe"] is False
    bad = requests.post(sim.url + "/_sim/send", json={"openid": u["openid"], "text": "x",
                                                      "bad_signature": True}).json()
    assert bad["status"] == 403 and bad["error"]
    assert echo.errors == ["bad signature"]

    hist = requests.get(f"{sim.url}/_sim/inbox/{u['openid']}", params={"all": 1}).json()
    kinds = [m["kind"] for m in hist]
    assert kinds.count("out") == 7 and kinds.count("reply") == 6 and kinds[-1] == "error"
    assert requests.get(f"{sim.url}/_sim/inbox/{u['openid']}").json() == []

    assert requests.post(sim.url + "/_sim/verify").json()["ok"] is True

    # app down
    sim.state.update_config({"app_url": "http://127.0.0.1:9"})
    assert requests.post(sim.url + "/_sim/verify").json()["ok"] is False
    r = requests.post(sim.url + "/_sim/send", json={"openid": u["openid"], "text": "x"}).json()
    assert r["status"] is None and "connection failed" in r["error"]


def test_receipts(sim, echo):
    sim.state.update_config({"receipts": True, "receipt_delay": 0})
    tok = get_token(sim)
    ok_user = new_user(sim)
    blocker = new_user(sim, receipt="failed:user block")
    ids = {}
    for u in (ok_user, blocker):
        r = api(sim, "POST", "/cgi-bin/message/template/send", tok,
                json={"touser": u["openid"], "template_id": "T", "data": {}}).json()
        ids[u["openid"]] = r["msgid"]
    got = wait_for(lambda: (lambda r: r if len(r) == 2 else None)(
        [m for m in echo.received if m.get("Event") == "TEMPLATESENDJOBFINISH"]), 10, interval=0.02,
        what="two delivery receipts")
    by_user = {m["FromUserName"]: m for m in got}
    assert by_user[ok_user["openid"]]["Status"] == "success"
    assert by_user[blocker["openid"]]["Status"] == "failed:user block"
    assert int(by_user[blocker["openid"]]["MsgID"]) == ids[blocker["openid"]]
    assert by_user[ok_user["openid"]]["_encrypted"]  # an AES key is set: safe mode
    # The receipt log is written after the push is answered: wait for both entries.
    wait_for(lambda: len(requests.get(sim.url + "/_sim/receipts").json()) == 2, 10, what="the receipt log")


def test_sms_gateway(sim):
    r = requests.post(sim.url + "/_sim/sms", json={"phone": "13800000000", "content": "验证码 123456"})
    assert r.status_code == 200 and r.json()["ok"] is True
    requests.post(sim.url + "/_sim/faults",
                  json={"rules": [{"path": "/_sim/sms", "status": 500, "times": 1}]})
    assert requests.post(sim.url + "/_sim/sms",
                         json={"phone": "13900000000", "content": "x"}).status_code == 500
    assert requests.post(sim.url + "/_sim/sms",
                         json={"phone": "13900000000", "content": "y"}).status_code == 200
    assert requests.post(sim.url + "/_sim/sms", json={"phone": 1}).status_code == 400
    sms = requests.get(sim.url + "/_sim/sms").json()
    assert [s["content"] for s in sms] == ["验证码 123456", "y"]
    assert requests.get(sim.url + "/_sim/sms", params={"since": sms[0]["seq"]}).json() == sms[1:]
    assert len(sim.calls("/_sim/sms")) == 4
    # rules without a path leave the SMS gateway alone
    requests.post(sim.url + "/_sim/faults", json={"rules": [{"status": 500}]})
    assert requests.post(sim.url + "/_sim/sms",
                         json={"phone": "13900000000", "content": "z"}).status_code == 200


def test_reset_and_chat_page(sim):
    new_user(sim)
    get_token(sim)
    requests.post(sim.url + "/_sim/reset")
    assert requests.get(sim.url + "/_sim/users").json() == []
    assert requests.get(sim.url + "/_sim/calls").json() == []
    assert requests.get(sim.url + "/_sim/stats").json()["token_grants"] == 0
    page = requests.get(sim.url + "/")
    assert page.status_code == 200
    for ident in ("user-select", "new-user", "follow-toggle", "encrypted", "chat-log",
                  "message-input", "send", "menu", "sms-log"):
        assert f'id="{ident}"' in page.text
    assert "（尚未发布菜单）" in page.text
    assert requests.get(sim.url + "/_sim/static/chat.js").status_code == 200


def test_create_sim_app_in_process():
    app = create_sim_app(token=TOKEN, app_id=APP_ID, app_secret=SECRET)
    c = app.test_client()
    tok = c.get("/cgi-bin/token", query_string={"grant_type": "client_credential",
                                                "appid": APP_ID, "secret": SECRET}).json
    assert tok["access_token"]
    assert c.post("/_sim/send", json={"openid": "o1", "text": "hi"}).status_code == 409
    enc_box = c.get("/").get_data(as_text=True)
    assert 'id="encrypted" disabled' in enc_box
