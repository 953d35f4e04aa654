"""rq-dashboard under /admin/rq: ministry accounts signed in through OAuth see it; a counselor, a
college, school or province account is refused, and a visitor who is not signed in is sent to OAuth."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

import jobs
from models.vocab import COLLEGE, MINISTRY, PROVINCE, SCHOOL
from tests.test_job_queues import failing_job


def oauth_sign_in(client, simulator, openid: str, path: str):
    """Follow the real round trip: our redirect, the simulator's authorize, our callback."""
    first = client.get(path)
    assert first.status_code == 302 and first.headers["Location"].startswith(simulator.url + "/connect/oauth2/authorize")
    authorize = requests.get(first.headers["Location"], params={"sim_openid": openid}, allow_redirects=False,
                             timeout=10)
    assert authorize.status_code == 302, authorize.text
    callback = urlsplit(authorize.headers["Location"])
    back = client.get(f"{callback.path}?{callback.query}")
    assert back.status_code == 302 and back.headers["Location"].endswith(path), back.data.decode()
    return client.get(path)


def test_ministry_account_signed_in_through_oauth_sees_the_dashboard(app, client, simulator, factory, run_jobs):
    openid = simulator.add_user()["openid"]
    factory.staff(MINISTRY, factory.ministry(), openid=openid)
    factory.commit()
    with app.app_context():
        jobs.enqueue(failing_job, "手机号 13800001234 验证码 654321", queue_name=jobs.DEFAULT, job_id="admin-fails")
    run_jobs()
    page = oauth_sign_in(client, simulator, openid, "/admin/rq/")
    assert page.status_code == 200 and "RQ" in page.data.decode()
    queues = client.get("/admin/rq/0/data/queues.json")
    assert queues.status_code == 200
    names = {q["name"] for q in queues.get_json()["queues"]}
    assert jobs.DEFAULT in names  # rq lists the queues that have had a job
    failed = client.get("/admin/rq/0/data/jobs/default/failed/8/asc/1.json")
    assert failed.status_code == 200
    listed = failed.get_json()["jobs"]
    assert [j["id"] for j in listed] == ["admin-fails"]
    # The description names the function, never its arguments (a phone, a code).
    assert "13800001234" not in listed[0]["description"] and "654321" not in listed[0]["description"]


@pytest.mark.parametrize("level", ["counselor", COLLEGE, SCHOOL, PROVINCE])
def test_other_accounts_are_refused(client, simulator, factory, level):
    openid = simulator.add_user()["openid"]
    school = factory.school()
    college = factory.college(school)
    if level == "counselor":
        factory.counselor(college, openid=openid)
    else:
        unit = {COLLEGE: college, SCHOOL: school, PROVINCE: factory.province()}[level]
        factory.staff(level, unit, openid=openid)
    factory.commit()
    for path in ("/admin/rq/", "/admin/rq/0/data/queues.json", "/admin/rq/job/x/delete"):
        if path == "/admin/rq/":
            page = oauth_sign_in(client, simulator, openid, path)
        else:
            page = client.get(path) if not path.endswith("delete") else client.post(path)
        assert page.status_code == 403, (path, page.status_code)
        assert "仅供部级账号使用" in page.data.decode()


def test_a_visitor_not_signed_in_goes_through_oauth_and_an_unbound_one_is_refused(client, simulator):
    response = client.get("/admin/rq/0/data/workers.json")
    assert response.status_code == 302 and "/connect/oauth2/authorize" in response.headers["Location"]
    stranger = simulator.add_user()["openid"]
    page = oauth_sign_in(client, simulator, stranger, "/admin/rq/")
    assert page.status_code == 403 and "还没有绑定" in page.data.decode()
