"""Privacy (SPEC 10, issue 8): full phone numbers, passwords and codes never appear in logs, nor in
replies to anyone but the phone's owner.

One representative run through the real server captures every log record (all loggers, all
levels, the live server's threads and the jobs) and every reply and page: binding by SMS and by
password, account commands and their refusals, dispatch and its fan-out, progress, 未完成, 触达,
diagnosis, wrong codes and passwords, an import, errors. Then all of it is scanned.
"""
from __future__ import annotations

import logging
import re
from collections import defaultdict

import requests
from sqlalchemy import select

from models.identity import SmsOutbox
from models.vocab import COLLEGE, SCHOOL
from models.sms import full_text
from tests.factories import PASSWORD
from tests.reliability import record_figures
from tests.wechat_client import new_openid

PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
CONFIRM = re.compile(r"已派发任务 #(\d+)")


class Capture(logging.Handler):
    """Every record of every logger, as the final text a log file would hold."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record):
        self.lines.append(self.format(record))


def test_phones_passwords_and_codes_stay_private(app, factory, simulator, wechat, db, run_jobs, live_server,
                                                 monkeypatch, tmp_path):
    capture = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    replies: dict[str, list[str]] = defaultdict(list)   # openid -> everything shown to it
    try:
        _scenario(app, factory, simulator, wechat, db, run_jobs, live_server, replies, tmp_path)
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)

    db.commit()
    sms = list(db.scalars(select(SmsOutbox)))
    codes = {m.group(1) for row in sms for m in [re.search(r"验证码 (\d{6})", full_text(row))] if m}
    passwords = {m.group(1) for row in sms for m in [re.search(r"初始密码：([^。，,\s]+)", full_text(row))] if m}
    passwords.add(PASSWORD)
    assert codes and len(passwords) >= 2, (codes, passwords, "the scenario must have produced codes and passwords")
    phones = SCENARIO["phones"]                          # phone -> the openid of its owner (or None)
    owners = {openid: phone for phone, openid in phones.items() if openid}

    leaks = []
    for line in capture.lines:
        for phone in PHONE.findall(line):
            leaks.append(("log: full phone", phone, line[:160]))
        for secret in codes | passwords:
            if secret in line:
                leaks.append(("log: secret", secret, line[:160]))
    shown = 0
    for openid, texts in replies.items():
        for text in texts:
            shown += 1
            for phone in PHONE.findall(text):
                # Its own phone, or one it typed itself (echoing that back reveals nothing).
                # Or, in the 账号 list only, one of the accounts it manages (SPEC 10's exception).
                managed = MANAGED_LIST_HEAD in text.split("\n", 1)[0] and phone in MANAGED[openid]
                if owners.get(openid) != phone and phone not in TYPED[openid] and not managed:
                    leaks.append(("reply: someone else's phone", phone, openid, text[:160]))
            for secret in codes | passwords:
                if re.search(rf"(?<![\d\w]){re.escape(secret)}(?![\d\w])", text):
                    leaks.append(("reply: secret", secret, openid, text[:160]))
    record_figures("privacy", log_records=len(capture.lines), replies_and_pages=shown, phones=len(phones),
                   codes=len(codes), passwords=len(passwords), leaks=len(leaks))
    assert len(capture.lines) > 50 and shown > 40, (len(capture.lines), shown)
    assert not leaks, leaks[:10]


SCENARIO: dict = {}
TYPED: dict[str, set[str]] = defaultdict(set)   # openid -> phones it typed in its own messages
MANAGED: dict[str, set[str]] = defaultdict(set)  # staff openid -> phones of the accounts it manages
MANAGED_LIST_HEAD = "的下级账号："                 # the first line of the 账号 list


def _scenario(app, factory, simulator, wechat, db, run_jobs, base, replies, tmp_path):
    school = factory.school(name="隐私大学")
    college = factory.college(school, name="计算机学院")
    factory.major(college, name="软件工程")
    major = factory.major(college, name="网络工程")
    ids = {k: new_openid() for k in ("school", "college", "k1", "newbie", "stranger", "other")}
    school_staff = factory.staff(SCHOOL, school, name="校老师", openid=ids["school"])
    college_staff = factory.staff(COLLEGE, college, name="院老师", openid=ids["college"])
    k1 = factory.counselor(college, name="辅导员甲", majors=[major], openid=ids["k1"])
    k2 = factory.counselor(college, name="辅导员乙", majors=[major], with_identity=True)   # bound by password below
    k3 = factory.counselor(college, name="辅导员丙", majors=[major], with_identity=False)  # never bound
    stranger_identity = factory.identity("13700001111", "路人")                         # identity, no account
    factory.graduate(major, name="毕业生张")
    factory.commit()
    for openid in ids.values():
        simulator.add_user(openid)
    newbie_phone, dup_phone = "13600002222", k1.phone
    SCENARIO["phones"] = {school_staff.phone: ids["school"], college_staff.phone: ids["college"],
                          k1.phone: ids["k1"], k2.phone: ids["other"], k3.phone: None,
                          stranger_identity.phone: ids["stranger"], newbie_phone: ids["newbie"]}

    MANAGED[ids["college"]].update({k1.phone, k2.phone, k3.phone, newbie_phone})
    MANAGED[ids["school"]].update({college_staff.phone, k1.phone, k2.phone, k3.phone, newbie_phone})

    def say(who, text):
        TYPED[ids[who]].update(PHONE.findall(text))
        reply = wechat.text(ids[who], text)
        assert reply.status == 200
        replies[ids[who]].append(reply.content or "")
        return reply.content or ""

    # Account commands, with refusals that name other people.
    say("college", f"添加辅导员 新辅导员 {newbie_phone} 本科 网络工程")
    say("college", f"添加辅导员 重复的 {dup_phone} 本科 网络工程")
    say("school", f"添加院系账号 院长 {college_staff.phone} 计算机学院")
    say("college", f"修改届别 {k1.phone} 2026,2027")
    say("college", f"修改届别 {school_staff.phone} 2027")
    say("college", "账号")
    say("school", "账号")
    # SMS binding: wrong codes, then the right one; a phone without an account; diagnosis.
    say("newbie", f"绑定 {newbie_phone}")
    for wrong in ("000000", "111111"):
        say("newbie", wrong)
    db.commit()
    code = re.search(r"验证码 (\d{6})", full_text(db.scalars(select(SmsOutbox).where(SmsOutbox.phone == newbie_phone)
                                                  .order_by(SmsOutbox.id.desc())).first())).group(1)
    say("newbie", code)
    say("newbie", "诊断")
    say("stranger", f"绑定 {stranger_identity.phone}")
    db.commit()
    code = re.search(r"验证码 (\d{6})", full_text(db.scalars(select(SmsOutbox).where(
        SmsOutbox.phone == stranger_identity.phone).order_by(SmsOutbox.id.desc())).first())).group(1)
    say("stranger", code)
    say("stranger", "诊断")
    say("stranger", f"诊断 {k1.phone}")
    say("stranger", f"绑定 {k3.phone}")
    say("stranger", "帮助")
    # Password binding on the login page: a wrong password, then the right one.
    http = requests.Session()
    http.cookies.set("sim_openid", ids["other"], domain="127.0.0.1")
    page = http.get(base + "/auth/login", timeout=10)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf, page.text[:500]
    for password in ("wrong-pass-1", PASSWORD):
        resp = http.post(base + "/auth/login", data={"csrf_token": csrf.group(1), "login": k2.phone,
                                                     "password": password}, timeout=10)
        replies[ids["other"]].append(resp.text)
    replies[ids["other"]].append(http.get(base + "/auth/done", timeout=10).text)
    # Dispatch, fan-out, supervision.
    say("school", "派发\n标题：隐私演练\n类型：其他\n届别：2026\n内容：请完成。")
    task_id = int(CONFIRM.search(say("school", "确认")).group(1))
    run_jobs()
    say("k1", f"完成 {task_id}")
    say("k1", "任务")
    say("k1", "进展")
    say("k1", "毕业生")
    say("other", f"任务 {task_id}")
    for who in ("school", "college"):
        say(who, f"进度 {task_id}")
        say(who, f"未完成 {task_id}")
        say(who, "触达")
        say(who, f"催办 {task_id}")
    run_jobs()
    progress = http_page(base, ids["school"], f"/progress/{task_id}")
    replies[ids["school"]].append(progress)
    replies[ids["k1"]].append(http_page(base, ids["k1"], f"/tasks/{task_id}"))
    replies[ids["k1"]].append(http_page(base, ids["k1"], "/stats"))
    # Deletion and an internal error (a handler that blows up logs a traceback: still masked).
    say("college", f"删除账号 {k1.phone}")
    say("k1", "诊断")
    say("k1", f"完成 {task_id}")
    # What the users received by template/custom message is shown to them too.
    for openid in ids.values():
        for message in simulator.inbox(openid):
            replies[openid].append(str(message.get("content") or message.get("data") or ""))


def http_page(base: str, openid: str, path: str) -> str:
    http = requests.Session()
    http.cookies.set("sim_openid", openid, domain="127.0.0.1")
    resp = http.get(base + path, timeout=10)
    assert resp.status_code < 500, (path, resp.status_code)
    return resp.text
