"""The pages when a national dispatch makes everyone tap at once (SPEC 8, issue 19).

A page session lasts 7 days; a warm task page reads its visitor from the per-process cache
that the change tokens keep exact; the code exchange of a cold open never holds the web worker
that gunicorn.conf.py sets up (a real gunicorn, one worker, WeChat answering late).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests
from sqlalchemy import event

from tests.test_dispatch import build_world
from tests.test_login_page import _authorize
from tests.test_task_commands import make_task

ROOT = Path(__file__).resolve().parent.parent
WEEK = 7 * 86400


def signed_in(live_server, simulator, openid, path):
    """A phone of its own, through OAuth to `path`: (session, the landing response)."""
    http = requests.Session()
    state, code = _authorize(http, live_server, simulator, openid, path=path)
    landed = http.get(live_server + "/auth/callback", params={"state": state, "code": code})
    return http, landed


def test_page_session_lasts_seven_days(factory, simulator, live_server):
    openid = simulator.add_user()["openid"]
    http = requests.Session()
    state, code = _authorize(http, live_server, simulator, openid)
    callback = http.get(live_server + "/auth/callback", params={"state": state, "code": code},
                        allow_redirects=False)
    assert callback.status_code == 302
    cookie = next(c for c in http.cookies if c.name == "session")
    # A browser session cookie (no expiry) would send every tap back through WeChat's code exchange.
    assert cookie.expires is not None
    assert abs(cookie.expires - time.time() - WEEK) < 120
    assert http.get(live_server + "/auth/login", allow_redirects=False).status_code == 200


def test_warm_task_page_reads_its_visitor_from_the_cache(app, factory, db, simulator, live_server):
    world = build_world(factory, simulator)
    task = make_task(db, world.school_staff, title="高峰任务")
    db.commit()
    counselor, openid = world.counselors["cs_ben"], world.openids["cs_ben"]
    http, first = signed_in(live_server, simulator, openid, f"/tasks/{task.id}")
    assert first.status_code == 200 and "高峰任务" in first.text

    statements = []
    engine = app.extensions["fdy.db"].engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
    event.listen(engine, "before_cursor_execute", listener)
    try:
        again = http.get(f"{live_server}/tasks/{task.id}")
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert again.status_code == 200 and "高峰任务" in again.text
    # Only the counselor's copy of the task: the visitor, the task and the issuing unit come from caches.
    assert len(statements) == 1, statements

    # What a task says is as fresh as the database: an edit shows at the next tap.
    task.title = "高峰任务（已修改）"
    db.commit()
    assert "高峰任务（已修改）" in http.get(f"{live_server}/tasks/{task.id}").text

    # A change anywhere makes every process ask the database again: a deactivated account is
    # refused at the very next tap.
    counselor.deactivate()
    db.commit()
    refused = http.get(f"{live_server}/tasks/{task.id}")
    assert refused.status_code == 403 and "账号不存在" in refused.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(condition, what: str, timeout: float = 30.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"gunicorn exited ({proc.returncode}) before {what}")
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code in (200, 503)
    except requests.RequestException:
        return False


def test_cold_open_code_exchange_does_not_hold_the_web_worker(factory, db, simulator, database_url, redis_url):
    """One gunicorn worker as gunicorn.conf.py sets it up; WeChat takes 1.5 s to exchange a code (testing timeout: 2 s).
    While one phone waits for that, another phone's page is answered by the same worker."""
    world = build_world(factory, simulator)
    task = make_task(db, world.school_staff, title="冷启动任务")
    db.commit()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")}
    env.update(FDY_ENV="testing", DATABASE_URL=database_url, REDIS_URL=redis_url, WECHAT_API_BASE=simulator.url,
               WECHAT_OAUTH_BASE=simulator.url, PUBLIC_BASE_URL=base, GUNICORN_BIND=f"127.0.0.1:{port}",
               GUNICORN_WORKERS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
                            cwd=str(ROOT), env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: _answers(base + "/healthz"), "gunicorn to answer", proc=proc)
        waiting = requests.Session()
        first = waiting.get(f"{base}/tasks/{task.id}", allow_redirects=False)
        granted = waiting.get(first.headers["Location"], params={"sim_openid": world.openids["cs_ben"]},
                              allow_redirects=False)
        query = parse_qs(urlsplit(granted.headers["Location"]).query)
        [rule] = simulator.add_faults({"path": "/sns/oauth2/access_token", "delay": 1.5, "times": 1})
        outcome = {}

        def exchange_code():
            outcome["callback"] = waiting.get(f"{base}/auth/callback", params={"state": query["state"][0],
                                              "code": query["code"][0]}, allow_redirects=False, timeout=30)
            outcome["callback_done"] = time.monotonic()

        exchange = threading.Thread(target=exchange_code)
        exchange.start()
        # The one-time rule is used up when the exchange reaches WeChat (before its delay).
        _wait_for(lambda: all(f["id"] != rule["id"] for f in simulator.state.list_faults()),
                  "the code exchange to reach WeChat")

        other = requests.get(f"{base}/tasks/{task.id}", allow_redirects=False, timeout=30)
        other_done = time.monotonic()
        exchange.join(timeout=30)
        assert other.status_code == 302  # the other phone's cold open started
        assert other_done < outcome["callback_done"], "the other phone was answered only after the code exchange"
        assert outcome["callback"].status_code == 302
        page = waiting.get(base + outcome["callback"].headers["Location"], timeout=30)
        assert page.status_code == 200 and "冷启动任务" in page.text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()



def test_student_page_is_kept_rendered_and_exactly_as_fresh(app, factory, db, simulator, live_server):
    world = build_world(factory, simulator)
    task = make_task(db, world.school_staff, title="学生页任务", student_text="请同学们阅读。")
    db.commit()
    from handlers.share_links import student_link

    with app.test_request_context():
        link = student_link(task.id, world.counselors["cs_ben"].id)
    assert "学生页任务" in requests.get(link).text

    statements = []
    engine = app.extensions["fdy.db"].engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        again = requests.get(link)  # another student's phone
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert again.status_code == 200 and "学生页任务" in again.text
    assert statements == []

    task.title = "学生页任务（改）"
    db.commit()
    assert "学生页任务（改）" in requests.get(link).text
    task.status = "cancelled"
    db.commit()
    gone = requests.get(link)
    assert gone.status_code == 404 and "学生页任务" not in gone.text


class _Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_timed_cache_counts_once_per_ttl_and_once_at_a_time(monkeypatch):
    from bot import timed_cache

    clock = _Clock()
    monkeypatch.setattr(timed_cache.time, "monotonic", clock)
    cache = timed_cache.TimedCache(10.0)
    counted = []
    assert cache.get_or_compute("k", lambda: counted.append(1) or len(counted)) == 1
    clock.now += 9.9
    assert cache.get_or_compute("k", lambda: counted.append(1) or len(counted)) == 1
    clock.now += 0.2
    assert cache.get_or_compute("k", lambda: counted.append(1) or len(counted)) == 2

    # Many askers of a key not counted yet while the first one counts: one count, every asker gets it.
    clock.now += 60
    started, release, calls, answers = threading.Event(), threading.Event(), [], []

    def slow():
        calls.append(1)
        started.set()
        release.wait(30)
        return "figures"

    askers = [threading.Thread(target=lambda: answers.append(cache.get_or_compute("k2", slow))) for _ in range(6)]
    askers[0].start()
    started.wait(30)
    for t in askers[1:]:
        t.start()
    release.set()
    for t in askers:
        t.join(30)
    assert calls == [1] and answers == ["figures"] * 6

    # Once there is a count, a recount keeps nobody waiting: the others get the previous one.
    clock.now += 60
    started.clear()
    release.clear()
    recount = threading.Thread(target=lambda: answers.append(cache.get_or_compute("k2", lambda: (
        started.set(), release.wait(30), "new figures")[2])))
    recount.start()
    started.wait(30)
    assert cache.get_or_compute("k2", lambda: "never counted here") == "figures"
    release.set()
    recount.join(30)
    assert answers[-1] == "new figures" and cache.get_or_compute("k2", lambda: "again") == "new figures"


def test_progress_figures_are_recounted_once_per_ttl(app, factory, db, simulator, live_server, wechat, monkeypatch):
    from bot import timed_cache

    clock = _Clock()
    monkeypatch.setattr(timed_cache.time, "monotonic", clock)
    world = build_world(factory, simulator)
    task = make_task(db, world.school_staff, title="进度任务")
    db.commit()
    http, first = signed_in(live_server, simulator, world.school_openid, f"/progress/{task.id}")
    assert first.status_code == 200 and 'id="fig-done">0/' in first.text and 'id="figures-at"' in first.text

    wechat.ask(world.openids["cs_ben"], f"完成 {task.id}")
    statements = []
    engine = app.extensions["fdy.db"].engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        again = http.get(f"{live_server}/progress/{task.id}")
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert 'id="fig-done">0/' in again.text  # counted less than FIGURES_TTL ago: not counted again
    assert not [s for s in statements if "GROUP BY" in s.upper()], statements

    clock.now += 11
    assert 'id="fig-done">1/' in http.get(f"{live_server}/progress/{task.id}").text


def test_code_exchanges_at_once_reuse_pooled_connections(app, simulator, caplog):
    """As many exchanges in flight as a web worker has threads: none is refused a pooled
    connection (urllib3 logs "Connection pool is full, discarding connection" when one is)."""
    from bot.wechat_api import WeChatError, get_client

    simulator.add_faults({"path": "/sns/oauth2/access_token", "delay": 0.3})
    client = get_client(app)
    outcomes = []

    def exchange():
        try:
            client.oauth_exchange("not-a-code")
        except WeChatError as exc:
            outcomes.append(exc.errcode)

    threads = [threading.Thread(target=exchange) for _ in range(24)]
    with caplog.at_level("WARNING", logger="urllib3.connectionpool"):
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert outcomes == [40029] * 24  # every call reached WeChat and got its answer
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]


def test_web_workers_run_with_two_malloc_arenas():
    """Threads each get a glibc arena of their own otherwise: the web workers' RSS after a national
    storm of page opens grew to 250-290 MB instead of ~200 MB (docs/PERFORMANCE.md)."""
    unit = (ROOT / "deploy" / "systemd" / "fdy-web.service").read_text()
    assert "Environment=MALLOC_ARENA_MAX=2" in unit.splitlines()
    web = next(line for line in (ROOT / "deploy" / "Procfile").read_text().splitlines() if line.startswith("web:"))
    assert "MALLOC_ARENA_MAX=2" in web.split("gunicorn")[0]
