"""The login/binding page through WeChat OAuth on the simulator (SPEC 2, 8):
headless Chromium for the flows a person clicks through, requests for the
OAuth corner cases (a used code restarts the authorization)."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import requests
from sqlalchemy import select

from models import Identity, SmsOutbox
from models.sms import full_text
from tests.factories import PASSWORD
from tests.test_binding import fresh


def open_login(page, simulator, live_server, openid):
    """Through OAuth: our page -> simulator authorize (cookie picks the user) -> callback -> page."""
    page.context.add_cookies([{"name": "sim_openid", "value": openid, "url": simulator.url}])
    page.goto(live_server + "/auth/login")
    page.wait_for_selector("#password-form")
    assert page.url.startswith(live_server + "/auth/login")


def last_code(db, phone):
    fresh(db)
    row = db.scalar(select(SmsOutbox).where(SmsOutbox.phone == phone).order_by(SmsOutbox.id.desc()).limit(1))
    return re.search(r"\d{6}", full_text(row)).group(0)


def bound_openid(db, phone):
    fresh(db)
    return db.scalar(select(Identity.openid).where(Identity.phone == phone))


def test_password_binding_through_oauth(page, factory, db, simulator, live_server, artifacts_dir):
    college = factory.college(name="软件学院")
    counselor = factory.counselor(college, name="孙老师")
    factory.commit()
    openid = simulator.add_user()["openid"]

    open_login(page, simulator, live_server, openid)
    assert simulator.calls("/connect/oauth2/authorize")
    page.fill("#login", counselor.phone)
    page.fill("#password", PASSWORD)
    page.click("#password-submit")
    page.wait_for_selector("#success")
    assert page.url.endswith("/auth/done")
    assert page.inner_text("#bound-name") == "孙老师"
    assert page.inner_text("#bound-role") == "辅导员"
    assert "软件学院" in page.inner_text("#success")
    page.screenshot(path=f"{artifacts_dir}/login-success.png")
    assert bound_openid(db, counselor.phone) == openid

    # Back on the login page the binding is shown, with a way to undo it.
    page.goto(live_server + "/auth/login")
    assert "孙老师" in page.inner_text("#current")
    page.click("#unbind")
    page.wait_for_selector("#unbound")
    assert bound_openid(db, counselor.phone) is None


def test_lock_message_after_5_wrong_passwords(page, factory, db, simulator, live_server, artifacts_dir):
    counselor = factory.counselor(factory.college())
    factory.commit()
    openid = simulator.add_user()["openid"]
    open_login(page, simulator, live_server, openid)
    for attempt in range(1, 6):
        page.fill("#login", counselor.identity.username)
        page.fill("#password", f"wrong-{attempt}")
        page.click("#password-submit")
        page.wait_for_selector("#error")
        if attempt < 5:
            assert f"还可尝试{5 - attempt}次" in page.inner_text("#error")
    message = page.inner_text("#error")
    assert "锁定2小时" in message and "北京时间" in message
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}（北京时间）", message)
    # The phone-A diagnosis is shown with the failure.
    assert "诊断" in page.inner_text("#diagnosis")
    page.screenshot(path=f"{artifacts_dir}/login-locked.png")

    page.fill("#login", counselor.phone)
    page.fill("#password", PASSWORD)
    page.click("#password-submit")
    page.wait_for_selector("#error")
    assert "锁定" in page.inner_text("#error")
    assert bound_openid(db, counselor.phone) is None


def test_sms_binding_on_the_page(page, factory, db, simulator, live_server):
    counselor = factory.counselor(factory.college(), name="周老师")
    factory.commit()
    openid = simulator.add_user()["openid"]
    open_login(page, simulator, live_server, openid)
    page.fill("#phone", counselor.phone)
    page.click("#sms-submit")
    page.wait_for_selector("#code-form")
    assert "验证码已发送" in page.inner_text("#notice")
    page.fill("#code", last_code(db, counselor.phone))
    page.click("#code-submit")
    page.wait_for_selector("#success")
    assert page.inner_text("#bound-name") == "周老师"


def test_case1_and_not_following_show_the_diagnosis(page, factory, db, simulator, live_server):
    factory.identity("13544445555", name="吴老师")
    factory.commit()
    openid = simulator.add_user()["openid"]
    simulator.send(openid, event="unsubscribe")  # the user unfollowed the service account
    open_login(page, simulator, live_server, openid)
    page.fill("#login", "13544445555")
    page.fill("#password", PASSWORD)
    page.click("#password-submit")
    page.wait_for_selector("#no-account")
    assert "账号不存在" in page.inner_text("#no-account")
    checks = page.locator("#diagnosis li.check").all_inner_texts()
    assert len(checks) == 4
    assert checks[1].startswith("✘") and "账号不存在" in checks[1]
    assert checks[3].startswith("✘") and "未关注公众号" in checks[3]


def test_forgot_password_resets_by_sms(page, factory, db, simulator, live_server):
    counselor = factory.counselor(factory.college())
    factory.commit()
    openid = simulator.add_user()["openid"]
    open_login(page, simulator, live_server, openid)
    page.click("#forgot-link")
    page.fill("#phone", counselor.phone)
    page.click("#forgot-send")
    page.wait_for_selector("#forgot-reset-form")
    page.fill("#code", last_code(db, counselor.phone))
    page.fill("#password", "BrandNew123")
    page.fill("#password2", "BrandNew123")
    page.click("#forgot-reset")
    page.wait_for_selector("#reset-done")
    page.goto(live_server + "/auth/login")
    page.fill("#login", counselor.phone)
    page.fill("#password", "BrandNew123")
    page.click("#password-submit")
    page.wait_for_selector("#success")


# -- OAuth corner cases (plain HTTP) -----------------------------------------------------
def _authorize(http, live_server, simulator, openid, path="/auth/login"):
    """Start at our page; return (state, code) the simulator hands to /auth/callback."""
    first = http.get(live_server + path, allow_redirects=False)
    assert first.status_code == 302
    authorize = first.headers["Location"]
    assert authorize.startswith(simulator.url + "/connect/oauth2/authorize")
    granted = http.get(authorize, params={"sim_openid": openid}, allow_redirects=False)
    assert granted.status_code == 302
    query = parse_qs(urlsplit(granted.headers["Location"]).query)
    return query["state"][0], query["code"][0]


def test_used_code_restarts_authorization(factory, simulator, live_server):
    openid = simulator.add_user()["openid"]
    first = requests.Session()
    state, code = _authorize(first, live_server, simulator, openid)
    ok = first.get(live_server + "/auth/callback", params={"state": state, "code": code}, allow_redirects=False)
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/auth/login")
    assert first.get(live_server + "/auth/login").status_code == 200

    # The same code again (a reload, a forwarded link): WeChat says 40163, we start over.
    second = requests.Session()
    state2, _ = _authorize(second, live_server, simulator, openid)
    again = second.get(live_server + "/auth/callback", params={"state": state2, "code": code}, allow_redirects=False)
    assert again.status_code == 302
    assert again.headers["Location"].startswith(simulator.url + "/connect/oauth2/authorize")
    errors = [c["response"].get("errcode") for c in simulator.calls("/sns/oauth2/access_token")]
    assert 40163 in errors
    # Following the restart lands on the page.
    granted = second.get(again.headers["Location"], params={"sim_openid": openid}, allow_redirects=False)
    landed = second.get(granted.headers["Location"], allow_redirects=True)
    assert landed.status_code == 200 and 'id="password-form"' in landed.text


def test_invalid_code_restarts_and_state_is_single_use(simulator, live_server):
    openid = simulator.add_user()["openid"]
    http = requests.Session()
    state, code = _authorize(http, live_server, simulator, openid)
    bogus = http.get(live_server + "/auth/callback", params={"state": state, "code": "not-a-code"},
                     allow_redirects=False)
    assert bogus.status_code == 302 and "/connect/oauth2/authorize" in bogus.headers["Location"]  # 40029
    reused_state = http.get(live_server + "/auth/callback", params={"state": state, "code": code},
                            allow_redirects=False)
    assert reused_state.status_code == 400 and "重新进入" in reused_state.text


def test_forms_need_the_session_token(factory, simulator, live_server):
    counselor = factory.counselor(factory.college())
    factory.commit()
    openid = simulator.add_user()["openid"]
    http = requests.Session()
    state, code = _authorize(http, live_server, simulator, openid)
    http.get(live_server + "/auth/callback", params={"state": state, "code": code})
    page = http.get(live_server + "/auth/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    forged = http.post(live_server + "/auth/login", data={"login": counselor.phone, "password": PASSWORD})
    assert forged.status_code == 400 and "页面已过期" in forged.text
    real = http.post(live_server + "/auth/login", data={"login": counselor.phone, "password": PASSWORD,
                                                         "csrf_token": token}, allow_redirects=False)
    assert real.status_code == 302 and real.headers["Location"].endswith("/auth/done")
    # Without a session a POST goes back through OAuth instead of failing.
    anonymous = requests.post(live_server + "/auth/login", data={"login": "x"}, allow_redirects=False)
    assert anonymous.status_code == 302 and "/connect/oauth2/authorize" in anonymous.headers["Location"]
