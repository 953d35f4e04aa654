"""Page security (issue 14): OAuth state tied to the browser that started the login (login CSRF),
frame and referrer headers, Secure cookies on an https site."""
from __future__ import annotations

import requests

from tests.conftest import make_config
from tests.test_login_page import _authorize


def test_callback_opened_in_another_browser_signs_nobody_in(simulator, live_server):
    attacker_openid = simulator.add_user()["openid"]
    attacker = requests.Session()
    state, code = _authorize(attacker, live_server, simulator, attacker_openid)
    link = {"state": state, "code": code}

    # The victim opens the attacker's callback link: refused, nothing consumed, nobody signed in.
    victim = requests.Session()
    victim.get(live_server + "/auth/login", allow_redirects=False)  # the victim's own session
    opened = victim.get(live_server + "/auth/callback", params=link, allow_redirects=False)
    assert opened.status_code == 400 and "本浏览器" in opened.text
    back = victim.get(live_server + "/auth/login", allow_redirects=False)
    assert back.status_code == 302 and "/connect/oauth2/authorize" in back.headers["Location"]
    fresh = requests.get(live_server + "/auth/callback", params=link, allow_redirects=False)
    assert fresh.status_code == 400
    assert not simulator.calls("/sns/oauth2/access_token"), "the code must not be exchanged for another browser"

    # The browser that started the login still gets in with the same link.
    own = attacker.get(live_server + "/auth/callback", params=link, allow_redirects=False)
    assert own.status_code == 302 and own.headers["Location"].endswith("/auth/login")
    assert attacker.get(live_server + "/auth/login").status_code == 200


def test_pages_refuse_framing_and_keep_their_urls(client):
    for path in ("/auth/login", "/auth/callback", "/stats"):
        resp = client.get(path)
        assert resp.headers["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"], path
        assert resp.headers["Referrer-Policy"] == "same-origin", path


def test_session_cookie_is_secure_on_an_https_site(app, database_url, redis_url, simulator):
    from bot.app import create_app

    http_cookie = app.test_client().get("/auth/login").headers.get("Set-Cookie", "")
    assert "session=" in http_cookie and "Secure" not in http_cookie  # plain http (tests, make run)
    https_app = create_app(make_config(database_url, redis_url, simulator.url,
                                       PUBLIC_BASE_URL="https://fdy.example.edu.cn"))
    try:
        cookie = https_app.test_client().get("/auth/login").headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        https_app.extensions["fdy.db"].engine.dispose()


def test_only_the_student_page_may_be_framed(app, client, factory, db):
    from handlers.share_links import old_token
    from models.vocab import SCHOOL
    from tests.test_task_commands import make_task

    school = factory.school()
    staff = factory.staff(SCHOOL, school)
    task = make_task(db, staff, student_text="学生版")
    with app.app_context():
        resp = client.get(f"/share/{old_token(task.id)}")
    assert resp.status_code == 200
    assert resp.headers["Content-Security-Policy"] == "frame-ancestors *"
    assert "X-Frame-Options" not in resp.headers
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert client.get("/auth/login").headers["X-Frame-Options"] == "DENY"


def test_first_login_with_the_initial_password_asks_for_a_new_one(factory, db, simulator, live_server):
    import re

    from sqlalchemy import select

    from models import Identity, SmsOutbox
    from models import account_rules as rules
    from models.sms import full_text
    from models.vocab import COLLEGE

    college = factory.college()
    staff = factory.staff(COLLEGE, college)
    major = factory.major(college, name="软件工程")
    factory.commit()
    phone = "13912345678"
    assert rules.add_counselor(db, staff, name="周老师", phone=phone, study_level="本科", majors=major.name,
                               notify="now").ok
    sms = db.scalar(select(SmsOutbox).where(SmsOutbox.phone == phone))
    initial = full_text(sms).split("初始密码：")[1].split("。")[0]
    assert initial not in sms.content  # starred out at rest

    http = requests.Session()
    state, code = _authorize(http, live_server, simulator, simulator.add_user()["openid"])
    http.get(live_server + "/auth/callback", params={"state": state, "code": code})
    token = re.search(r'name="csrf_token" value="([^"]+)"', http.get(live_server + "/auth/login").text).group(1)
    signed_in = http.post(live_server + "/auth/login", data={"login": phone, "password": initial, "csrf_token": token},
                          allow_redirects=False)
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/auth/password")
    assert "初始密码" in http.get(live_server + "/auth/password").text
    same = http.post(live_server + "/auth/password", data={"password": initial, "password2": initial,
                                                           "csrf_token": token})
    assert "不能与短信中的初始密码相同" in same.text
    saved = http.post(live_server + "/auth/password", data={"password": "Zhou2026new", "password2": "Zhou2026new",
                                                            "csrf_token": token}, allow_redirects=False)
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/auth/done")
    db.expire_all()
    assert db.scalar(select(Identity.must_change_password).where(Identity.phone == phone)) is False
    # Asked once: the page does not come back.
    assert http.get(live_server + "/auth/password", allow_redirects=False).headers["Location"].endswith("/auth/done")


def test_wrong_password_by_username_shows_no_full_phone(factory, db, simulator, live_server):
    import re

    counselor = factory.counselor(factory.college())
    counselor.identity.username = "zhangsan2020"
    factory.commit()
    http = requests.Session()
    state, code = _authorize(http, live_server, simulator, simulator.add_user()["openid"])
    http.get(live_server + "/auth/callback", params={"state": state, "code": code})
    token = re.search(r'name="csrf_token" value="([^"]+)"', http.get(live_server + "/auth/login").text).group(1)
    page = http.post(live_server + "/auth/login", data={"login": "zhangsan2020", "password": "Wrong-1234",
                                                        "csrf_token": token}).text
    assert "密码错误" in page and 'id="diagnosis"' in page
    assert counselor.phone not in page and counselor.phone[-4:] in page
    # Typed by the visitor, the phone may be shown back.
    page = http.post(live_server + "/auth/login", data={"login": counselor.phone, "password": "Wrong-1234",
                                                        "csrf_token": token}).text
    assert "密码错误" in page
