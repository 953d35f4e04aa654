"""Faults with real processes (SPEC 10, issue 8): a worker SIGKILLed in mid fan-out, Redis
stopped and hung, the WeChat API failing in bursts, MariaDB restarted under traffic.

Each test counts what it did and writes the figures to test-artifacts/reliability-figures.json
(docs/RELIABILITY.md is written from them).
"""
from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select

import jobs
import jobs.notify as notify
from models.clock import BEIJING
from models.tasks import Notification, Task, TaskRecipient
from models.vocab import COLLEGE
from tests.conftest import AES_KEY, make_config
from tests.reliability import (PrivateMariaDB, PrivateRedis, promote_scheduled, record_figures, serve,
                               sigkill_worker, start_worker, stop_worker, wait_for)
from tests.wechat_client import WeChatServer, new_openid

pytestmark = pytest.mark.reliability

CONFIRM = re.compile(r"已派发任务 #(\d+)，共 (\d+) 名辅导员，其中 (\d+) 名未触达")
APOLOGY = "抱歉，系统暂时出了点问题"


def local(dt: datetime) -> str:
    return dt.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def live_form(title: str, start_in: timedelta = timedelta(minutes=10)) -> str:
    start = datetime.now(BEIJING) + start_in
    return (f"派发\n标题：{title}\n类型：直播课\n届别：2026\n开始：{local(start)}\n"
            f"结束：{local(start + timedelta(hours=1))}\n内容：请准时参加直播并签到。")


def plain_form(title: str) -> str:
    return f"派发\n标题：{title}\n类型：政策\n届别：2026\n内容：请学习并转发给毕业生。"


def college_world(factory, simulator, n: int, bind=True):
    """A college with its staff and n bound, following counselors (simulator users)."""
    college = factory.college(name="可靠性学院")
    major = factory.major(college, name="软件工程")
    staff_openid = new_openid()
    staff = factory.staff(COLLEGE, college, name="院系老师", openid=staff_openid)
    simulator.add_user(staff_openid)
    counselors = []
    for i in range(n):
        openid = new_openid() if bind else None
        account = factory.counselor(college, name=f"辅导员{i:03d}", majors=[major], cohorts=[2026], openid=openid)
        if openid:
            simulator.add_user(openid)
        counselors.append((account.id, openid))
    factory.commit()
    return staff_openid, counselors


def dispatch(chat: WeChatServer, openid: str, form: str) -> tuple[int, int]:
    preview = chat.ask(openid, form)
    assert "回复「确认」派发" in preview, preview
    reply = chat.ask(openid, "确认")
    match = CONFIRM.search(reply)
    assert match, reply
    return int(match.group(1)), int(match.group(2))


def template_counts(simulator, openids) -> Counter:
    return Counter({o: len([m for m in simulator.inbox(o) if m["kind"] == "template"]) for o in openids})


def note_states(db, task_id: int, kind: str = notify.KIND_TASK) -> Counter:
    db.commit()  # a fresh snapshot (MariaDB REPEATABLE READ)
    return Counter(dict(db.execute(select(Notification.state, func.count()).where(
        Notification.task_id == task_id, Notification.kind == kind).group_by(Notification.state)).all()))


def worker_env(database_url, redis_url, simulator, public_url) -> dict:
    env = dict(os.environ)
    env.update(FDY_ENV="testing", DATABASE_URL=database_url, REDIS_URL=redis_url, WECHAT_API_BASE=simulator.url,
               WECHAT_OAUTH_BASE=simulator.url, WECHAT_AES_KEY=AES_KEY, PUBLIC_BASE_URL=public_url)
    return env


# -- 1. worker SIGKILL in mid fan-out (twice), with a 5xx burst on top --------------------------------
def test_worker_sigkill_mid_fanout_loses_and_duplicates_nothing(app, factory, simulator, wechat, db, database_url,
                                                                 redis_url, live_server, tmp_path, monkeypatch):
    n = 120
    staff_openid, counselors = college_world(factory, simulator, n)
    openids = [o for _, o in counselors]
    # Slow WeChat: every send takes 40 ms, so a kill lands in the middle of a batch.
    simulator.add_faults({"path": "/cgi-bin/message/template/send", "delay": 0.04, "times": 10 * n})
    task_id, total = dispatch(wechat, staff_openid, plain_form("故障演练：进程被杀"))
    assert total == n
    env = worker_env(database_url, redis_url, simulator, live_server)
    queues = [jobs.queue(name) for name in jobs.QUEUE_NAMES]
    workers, kills = [], 0
    try:
        first = start_worker(env, tmp_path / "worker-a.log")
        workers.append(first)
        wait_for(lambda: simulator.stats()["deliveries"] >= 30, 60, what="the first worker to be sending")
        kills += sigkill_worker(first)
        at_first_kill = simulator.stats()["deliveries"]
        assert at_first_kill < n, "the fan-out finished before the kill: the test proves nothing"

        second = start_worker(env, tmp_path / "worker-b.log")
        workers.append(second)
        # The finisher takes the dead worker's rows over once its lease is stale (20 s).
        wait_for(lambda: simulator.stats()["deliveries"] >= at_first_kill + 20, 90,
                 what="the second worker to take the dead worker's rows over")
        kills += sigkill_worker(second)
        at_second_kill = simulator.stats()["deliveries"]

        # A burst of 5xx for whoever comes next; the only job left is the 10-minute backstop
        # (watch), which we make due now: time travel on rq's scheduler, not on our logic.
        simulator.add_faults({"path": "/cgi-bin/message/template/send", "status": 503, "times": 3})
        third = start_worker(env, tmp_path / "worker-c.log")
        workers.append(third)

        def settled():
            promote_scheduled(queues, prefix="notify-watch")
            promote_scheduled(queues, only_due=True)
            states = note_states(db, task_id)
            return sum(states[s] for s in notify.OPEN_STATES) == 0
        wait_for(settled, 150, interval=1.0, what="every notification to be sent")
    finally:
        for proc in workers:
            stop_worker(proc)

    counts = template_counts(simulator, openids)
    lost = [o for o in openids if counts[o] == 0]
    duplicated = [o for o in openids if counts[o] > 1]
    states = note_states(db, task_id)
    assert not lost and not duplicated, (lost, duplicated)
    assert states == Counter({"sent": n}), states
    db.commit()
    assert db.scalar(select(func.count()).select_from(TaskRecipient).where(
        TaskRecipient.task_id == task_id, TaskRecipient.notify_state == "sent")) == n
    record_figures("worker_sigkill", recipients=n, processes_killed=kills, kills=2,
                   delivered_before_first_kill=at_first_kill, delivered_before_second_kill=at_second_kill,
                   http_503_injected=3, lost=len(lost), duplicated=len(duplicated),
                   resends_dropped_by_client_msg_id=simulator.stats()["duplicates"])


# -- 2. Redis stopped, then hung: 完成 and 签到 still recorded and answered in time ------------------
@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path / "redis").start()
    yield server
    server.close()


def test_redis_down_completions_recorded_and_queue_resumes(app, factory, simulator, db, database_url,
                                                           private_redis):
    n = 12
    staff_openid, counselors = college_world(factory, simulator, n)
    side_app = create_side_app(database_url, private_redis.url(0), simulator)
    slow, answered, figures, longest = [], 0, Counter(), [0.0]
    with serve(side_app) as url:
        chat = WeChatServer(url, side_app.config["WECHAT_TOKEN"], side_app.config["WECHAT_APP_ID"], AES_KEY)
        # Dispatched while Redis is up; nobody runs the queue before Redis goes away.
        task_id, total = dispatch(chat, staff_openid, live_form("故障演练：Redis停机"))
        assert total == n
        queued = jobs.queue(jobs.NOTIFY, side_app).count
        assert queued >= 1

        private_redis.stop()

        def timed(openid, text, msg_id=None):
            nonlocal answered
            started = time.monotonic()
            reply = chat.text(openid, text, msg_id=msg_id)
            elapsed = time.monotonic() - started
            answered += 1
            longest[0] = max(longest[0], elapsed)
            if elapsed >= 5:
                slow.append((text, elapsed))
            assert reply.status == 200 and reply.content, (text, reply.status, reply.body[:200])
            return reply.content

        for i, (account_id, openid) in enumerate(counselors):
            if i % 3 == 2:
                continue  # some stay pending for 催办 and 进度
            assert "已完成" in timed(openid, f"完成 {task_id}")
            msg_id = 7_000_000_000 + account_id
            assert "签到成功" in timed(openid, f"签到 {task_id}", msg_id=msg_id)
            # WeChat retries the same MsgId; dedupe is down, so it is handled again, harmlessly.
            again = timed(openid, f"签到 {task_id}", msg_id=msg_id)
            assert "签到成功" in again and "无需重复" in again
            figures["completions"] += 1
            figures["checkins"] += 1
        progress = timed(staff_openid, f"进度 {task_id}")
        done = n - len([1 for i in range(n) if i % 3 == 2])
        assert f"已完成 {done}/{n}" in progress, progress
        # 催办 while Redis is down cannot be queued: the reply must say so (not "已催办"), and
        # must not count against the 2-hour limit, so the retry below goes through.
        urged = timed(staff_openid, f"催办 {task_id}")
        assert "未能发出" in urged and "已催办" not in urged, urged
        assert "绑定" in timed(new_openid(), "帮助")

        db.commit()
        rows = dict(db.execute(select(TaskRecipient.account_id, TaskRecipient.checked_in_at).where(
            TaskRecipient.task_id == task_id, TaskRecipient.completed_at.is_not(None))).all())
        assert len(rows) == done and all(rows.values())

        # Redis returns (its append-only file holds the queue), then hangs: connections open,
        # nothing answers; the socket timeouts must keep the answer under 5 s.
        private_redis.start()
        private_redis.hang()
        try:
            hung_ids = [(a, o) for i, (a, o) in enumerate(counselors) if i % 3 == 2][:2]
            for account_id, openid in hung_ids:
                assert "已完成" in timed(openid, f"完成 {task_id}")
                figures["completions_while_hung"] += 1
        finally:
            private_redis.resume()

        # Redis is back with what it held: the app notices by itself (its client fails fast for a
        # few seconds after a timeout), and the fan-out queued before the outage runs now.
        wait_for(private_redis.ping, 10, what="redis back")
        wait_for(lambda: _pings(side_app), 10, interval=0.5, what="the app to use Redis again")
        with side_app.app_context():
            from rq import SimpleWorker

            queues = [jobs.queue(name) for name in jobs.QUEUE_NAMES]
            SimpleWorker(queues, connection=queues[0].connection).work(burst=True)
        assert "已催办" in timed(staff_openid, f"催办 {task_id}")
        with side_app.app_context():
            SimpleWorker(queues, connection=queues[0].connection).work(burst=True)
    counts = template_counts(simulator, [o for _, o in counselors])
    states = note_states(db, task_id)
    assert states == Counter({"sent": n}), states
    pending = {o for i, (_, o) in enumerate(counselors) if i % 3 == 2}
    expected = {o: (2 if o in pending else 1) for _, o in counselors}
    assert dict(counts) == expected, (counts, "the 催办 made while Redis was down must reach the pending")
    assert not slow, slow
    record_figures("redis_down", requests=answered, over_5s=len(slow), longest_seconds=round(longest[0], 2), completions=figures["completions"],
                   checkins=figures["checkins"], completions_while_hung=figures["completions_while_hung"],
                   lost=sum(1 for o, c in counts.items() if c < expected[o]),
                   duplicated=sum(c - expected[o] for o, c in counts.items() if c > expected[o]))


def _pings(app) -> bool:
    from bot.store import get_redis

    try:
        return bool(get_redis(app).ping())
    except Exception:
        return False


def create_side_app(database_url, redis_url, simulator, **overrides):
    from bot.app import create_app

    return create_app(make_config(database_url, redis_url, simulator.url, **overrides))


# -- 3. WeChat API failing in bursts: every message sent or its refusal recorded ----------------------
def test_wechat_api_fault_bursts_every_message_sent_or_refusal_recorded(app, factory, simulator, wechat, db,
                                                                       run_jobs, monkeypatch):
    n = 30
    staff_openid, counselors = college_world(factory, simulator, n)
    openids = [o for _, o in counselors]
    refused = openids[0]        # WeChat refuses this one for good (data format error)
    unsubscribed = openids[1]   # unfollowed after binding: 43004
    simulator.state.users[unsubscribed]["subscribe"] = False
    path = "/cgi-bin/message/template/send"
    simulator.add_faults({"path": path, "openid": refused, "errcode": 47001})
    bursts = [{"path": path, "status": 500, "times": 4},
              {"path": path, "errcode": 45009, "times": 3},
              {"path": path, "errcode": 40001, "times": 3},
              {"path": path, "delay": 2.3, "times": 2},   # over the 2 s client timeout (delivered anyway)
              {"path": path, "status": 502, "times": 2},
              {"path": path, "errcode": -1, "times": 2}]
    simulator.add_faults(*bursts)
    task_id, total = dispatch(wechat, staff_openid, plain_form("故障演练：微信接口"))
    assert total == n

    # Time travel: the back-off is minutes; move the notifier's clock instead of sleeping.
    shift = timedelta(0)
    real = notify.utcnow
    monkeypatch.setattr(notify, "utcnow", lambda: real() + shift)
    queues = [jobs.queue(name) for name in jobs.QUEUE_NAMES]
    rounds = 0
    for rounds in range(1, 40):
        run_jobs()
        states = note_states(db, task_id)
        if sum(states[s] for s in notify.OPEN_STATES) == 0:
            break
        shift += timedelta(hours=2)
        promote_scheduled(queues)
    states = note_states(db, task_id)
    counts = template_counts(simulator, openids)
    assert sum(states[s] for s in notify.OPEN_STATES) == 0, (rounds, states)
    assert states["failed"] == 1 and states["unreachable"] == 1 and states["sent"] == n - 2, states
    db.commit()
    failed = db.scalar(select(Notification).where(Notification.task_id == task_id, Notification.state == "failed"))
    assert failed.openid == refused and failed.errcode == 47001
    unreachable = db.scalar(select(Notification).where(Notification.task_id == task_id,
                                                       Notification.state == "unreachable"))
    assert unreachable.openid == unsubscribed and unreachable.errcode == 43004
    assert counts[refused] == 0 and counts[unsubscribed] == 0
    lost = [o for o in openids[2:] if counts[o] == 0]
    duplicated = [o for o in openids if counts[o] > 1]
    assert not lost and not duplicated
    # The recipients' 未触达 shows in 进度.
    assert "未触达 1" in wechat.ask(staff_openid, f"进度 {task_id}")
    injected = sum(b["times"] for b in bursts)
    record_figures("wechat_api_faults", messages=n, faults_injected=injected + 1,
                   fault_kinds="500×4, 45009×3, 40001×3, timeout×2, 502×2, -1×2; 47001 always for 1 user; 43004",
                   rounds=rounds, sent=states["sent"], refusals_recorded=states["failed"] + states["unreachable"],
                   lost=len(lost), duplicated=len(duplicated))


# -- 4. MariaDB restarted during traffic ------------------------------------------------------------
@pytest.fixture
def private_mariadb(tmp_path):
    server = PrivateMariaDB(tmp_path / "mariadb").install().start()
    yield server
    server.close()


def test_mariadb_restart_under_traffic(redis_url, simulator, private_mariadb, tmp_path):
    from bot.app import create_app
    from models import db as database
    from models.migrate import upgrade
    from tests.factories import Factory

    private_mariadb.sql("CREATE DATABASE fdy_restart CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    url = private_mariadb.url("fdy_restart")
    upgrade(url)
    redis_lib = __import__("redis")
    redis_lib.Redis.from_url(redis_url).flushdb()
    side_app = create_app(make_config(url, redis_url, simulator.url))
    n = 20
    with side_app.app_context():
        factory = Factory(database.session)
        staff_openid, counselors = college_world(factory, simulator, n)
        seeded_task = None
    outcomes = Counter()
    confirmed: dict[int, int] = {}
    problems = []
    stop = threading.Event()
    with serve(side_app) as base:
        chat = WeChatServer(base, side_app.config["WECHAT_TOKEN"], side_app.config["WECHAT_APP_ID"], AES_KEY)
        seeded_task, _ = dispatch(chat, staff_openid, plain_form("重启前的任务"))

        def counselor_traffic(pairs):
            while not stop.is_set():
                for _, openid in pairs:
                    try:
                        reply = chat.text(openid, f"完成 {seeded_task}")
                    except requests.RequestException as exc:
                        problems.append(f"transport {type(exc).__name__}")
                        continue
                    if reply.status != 200 or not reply.content:
                        problems.append(f"status {reply.status}")
                    elif "已完成" in reply.content:
                        outcomes["complete_ok"] += 1
                    elif APOLOGY in reply.content:
                        outcomes["apology"] += 1
                    else:
                        problems.append(reply.content[:80])

        def staff_traffic():
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    chat.text(staff_openid, plain_form(f"重启中的任务{i}"))
                    reply = chat.text(staff_openid, "确认")
                except requests.RequestException as exc:
                    problems.append(f"transport {type(exc).__name__}")
                    continue
                if reply.status != 200 or not reply.content:
                    problems.append(f"status {reply.status}")
                    continue
                match = CONFIRM.search(reply.content)
                if match:
                    confirmed[int(match.group(1))] = int(match.group(2))
                    outcomes["dispatch_ok"] += 1
                else:
                    outcomes["dispatch_refused"] += 1

        threads = [threading.Thread(target=counselor_traffic, args=(counselors[k::3],)) for k in range(3)]
        threads.append(threading.Thread(target=staff_traffic))
        for t in threads:
            t.start()
        try:
            time.sleep(1.5)
            private_mariadb.stop()
            time.sleep(1.0)
            private_mariadb.start()
            time.sleep(1.5)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        during = sum(outcomes.values())

        # After the restart every request succeeds: pooled connections are pre-pinged.
        after = Counter()
        for _, openid in counselors:
            reply = chat.text(openid, f"完成 {seeded_task}")
            after["ok" if reply.content and "已完成" in reply.content else "bad"] += 1
        task_after, total_after = dispatch(chat, staff_openid, plain_form("重启后的任务"))
        after["ok" if total_after == n else "bad"] += 1
        health = requests.get(base + "/healthz", timeout=5)

    assert not problems, problems[:10]
    assert after["bad"] == 0, after
    assert health.status_code == 200, health.text
    # No half-written task: each task has all its recipients, and each 确认 reply matches the database.
    with side_app.app_context():
        session = database.session
        for task in session.scalars(select(Task)):
            rows = session.scalar(select(func.count()).select_from(TaskRecipient)
                                  .where(TaskRecipient.task_id == task.id))
            assert rows == task.recipient_count == n, (task.id, rows, task.recipient_count)
        for task_id, total in confirmed.items():
            assert session.get(Task, task_id) is not None and total == n
        done = session.scalar(select(func.count()).select_from(TaskRecipient).where(
            TaskRecipient.task_id == seeded_task, TaskRecipient.completed_at.is_not(None)))
        assert done == n
        tasks = session.scalar(select(func.count()).select_from(Task))
    side_app.extensions["fdy.db"].engine.dispose()
    record_figures("mariadb_restart", requests_during=during, apologies_during=outcomes["apology"],
                   requests_after=sum(after.values()), failures_after=after["bad"], http_500=0,
                   tasks=tasks, half_written_tasks=0, dispatches_confirmed=len(confirmed) + 2,
                   transport_errors=len([p for p in problems if p.startswith("transport")]))
