"""No secret at rest or in logs (issue 14, SPEC 10): every path that handles a secret runs, with
WeChat unreachable and the SMS gateway failing, then working; afterwards every log line (web
and worker, DEBUG and up, tracebacks included), every RQ key in Redis (job data decompressed)
and every outbox column is searched for the app secret, access tokens, OAuth codes, SMS codes
and passwords. The count found is written to test-artifacts/reliability-figures.json.
"""
from __future__ import annotations

import logging
import re
import traceback
import zlib
from urllib.parse import parse_qs, urlsplit

import requests
from sqlalchemy import select

from models import SmsOutbox
from models.sms import full_text
from models.vocab import COLLEGE
from tests.factories import PASSWORD
from tests.reliability import record_figures
from tests.test_login_page import _authorize
from tests.wechat_client import new_openid

DEAD = "http://127.0.0.1:9"   # nothing listens: connection refused, the URL in requests' text


class Capture(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


def _login_session(http, live_server, simulator, openid) -> tuple[str, str]:
    """Signed in through OAuth; returns (the OAuth code used, the page's CSRF token)."""
    state, code = _authorize(http, live_server, simulator, openid)
    http.get(live_server + "/auth/callback", params={"state": state, "code": code})
    page = http.get(live_server + "/auth/login").text
    return code, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _redis_blobs(conn) -> list[bytes]:
    blobs = []
    for key in conn.scan_iter("rq:*"):
        kind = conn.type(key)
        if kind == b"hash":
            values = list(conn.hgetall(key).values())
        elif kind == b"list":
            values = conn.lrange(key, 0, -1)
        elif kind in (b"set",):
            values = list(conn.smembers(key))
        elif kind == b"zset":
            values = conn.zrange(key, 0, -1)
        elif kind == b"stream":
            values = [v for _id, fields in conn.xrange(key) for v in fields.values()]
        else:
            values = [conn.get(key)] if kind == b"string" else []
        for value in values:
            blobs.append(value)
            try:
                blobs.append(zlib.decompress(value))
            except (zlib.error, TypeError):
                pass
    return blobs


def test_no_secret_in_logs_jobs_or_outbox(app, factory, db, simulator, wechat, live_server, run_jobs, redis_conn,
                                          monkeypatch):
    capture = Capture()
    root = logging.getLogger()
    root.addHandler(capture)
    monkeypatch.setattr(root, "level", logging.DEBUG)
    client = app.extensions["fdy.wechat"]
    oauth_codes: set[str] = set()
    try:
        college = factory.college(name="保密学院")
        major = factory.major(college, name="软件工程")
        staff_openid = new_openid()
        factory.staff(COLLEGE, college, openid=staff_openid)
        known = factory.counselor(college, majors=[major], cohorts=[2026])
        other = factory.counselor(college, majors=[major])
        late = factory.counselor(college, majors=[major])
        factory.commit()
        for openid in (staff_openid,):
            simulator.add_user(openid)

        # 1. WeChat working: OAuth, a wrong and a right password on the page.
        browser = requests.Session()
        code, token = _login_session(browser, live_server, simulator, simulator.add_user()["openid"])
        oauth_codes.add(code)
        browser.post(live_server + "/auth/login", data={"login": known.phone, "password": "Wrong-0000",
                                                        "csrf_token": token})
        browser.post(live_server + "/auth/login", data={"login": known.phone, "password": PASSWORD,
                                                        "csrf_token": token})

        # 2. WeChat unreachable, the SMS gateway refusing.
        monkeypatch.setattr(client, "api_base", DEAD)
        client.forget_local_token()
        redis_conn.delete("fdy:wechat:access_token")
        monkeypatch.setitem(app.config, "SMS_BACKEND", "http")
        monkeypatch.setitem(app.config, "SMS_HTTP_URL", simulator.url + "/_sim/sms")
        simulator.add_faults({"path": "/_sim/sms", "status": 503, "times": 1000})
        wechat.ask(staff_openid, f"添加辅导员 新来的 13955550001 本科 {major.name}")
        wechat.ask(new_openid(), f"绑定 {other.phone}")
        broken = requests.Session()
        state, failed_code = _authorize(broken, live_server, simulator, simulator.add_user()["openid"])
        oauth_codes.add(failed_code)
        assert broken.get(live_server + "/auth/callback", params={"state": state, "code": failed_code}).status_code == 502
        browser.post(live_server + "/auth/forgot/send", data={"phone": known.phone, "csrf_token": token})
        wechat.ask(staff_openid, "派发\n标题：保密测试\n类型：政策\n届别：2026\n内容：请阅读")
        wechat.ask(staff_openid, "确认")
        run_jobs()

        # 3. Both working again: a code is delivered, typed and used.
        simulator.clear_faults()
        monkeypatch.setattr(client, "api_base", simulator.url)
        binder = simulator.add_user()["openid"]
        wechat.ask(binder, f"绑定 {late.phone}")
        run_jobs()
        delivered = [m["content"] for m in simulator.sms(phone=late.phone)]
        sms_code = re.search(r"验证码 (\d{6})", delivered[-1]).group(1)
        assert "绑定成功" in wechat.ask(binder, sms_code)
        run_jobs()
    finally:
        root.removeHandler(capture)

    # What counts as a secret: gathered from where each one really went.
    db.expire_all()
    outbox = list(db.scalars(select(SmsOutbox)))
    texts = [full_text(row) for row in outbox] + [m["content"] for m in simulator.sms()]
    codes = {c for t in texts for c in re.findall(r"验证码 (\d{6})", t)}
    passwords = {p for t in texts for p in re.findall(r"初始密码：([^。，,\s]+)", t)} | {PASSWORD, "Wrong-0000"}
    tokens = {c["response"]["access_token"] for c in simulator.calls("/cgi-bin/token")
              if isinstance(c.get("response"), dict) and c["response"].get("access_token")}
    secrets = {app.config["WECHAT_APP_SECRET"]} | tokens | oauth_codes | codes | passwords
    assert codes and tokens and len(passwords) >= 3 and len(oauth_codes) == 2, (codes, tokens, passwords)

    # A delivered SMS keeps no code: only the starred text, nothing sealed.
    sent = [row for row in outbox if row.phone == late.phone and row.status == "sent"]
    assert sent and all(row.sealed is None and sms_code not in row.content for row in sent)

    found = []
    for line in capture.lines:
        found += [("log", s, line[:200]) for s in secrets if s in line]
    blobs = _redis_blobs(redis_conn)
    for blob in blobs:
        found += [("redis", s, blob[:120]) for s in secrets if s.encode() in blob]
    for row in outbox:
        for column in ("content", "error", "sealed"):
            value = getattr(row, column) or ""
            found += [("outbox", s, column, row.id) for s in secrets if s in value]
    record_figures("secrets_scan", secrets=len(secrets), log_lines=len(capture.lines), redis_values=len(blobs),
                   outbox_rows=len(outbox), found=len(found))
    assert len(capture.lines) > 50 and blobs and outbox
    assert not found, found[:10]
