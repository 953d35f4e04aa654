"""The worker is SIGKILLed in the middle of a fan-out of 3,000 template messages; a new worker
finishes it and every counselor has exactly one message (SPEC 10: at most once, at least once)."""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import time
from pathlib import Path

from sqlalchemy import func, insert, select

from jobs import notify
from models import Account, AccountCohort, Follower, Identity
from models.base import utcnow
from models.tasks import Notification
from models.vocab import COUNSELOR, SCHOOL
from tests.test_task_commands import make_task

ROOT = Path(__file__).resolve().parent.parent
N = 3000
TEMPLATE_PATH = "/cgi-bin/message/template/send"


def bulk_counselors(db, college, n: int) -> list[str]:
    """n bound, following counselors of one college, written in bulk (not one by one)."""
    now = utcnow()
    openids = [f"okill{i:06d}" for i in range(n)]
    phones = [f"1370000{i:04d}" for i in range(n)]
    db.execute(insert(Identity), [
        {"username": p, "phone": p, "name": f"辅导员{i}", "password_hash": "x", "openid": o, "failed_logins": 0,
         "created_at": now} for i, (p, o) in enumerate(zip(phones, openids))])
    identity_ids = dict(db.execute(select(Identity.phone, Identity.id).where(Identity.phone.in_(phones))).all())
    db.execute(insert(Account), [
        {"name": f"辅导员{i}", "phone": p, "active_phone": p, "level": COUNSELOR, "unit_id": college.id,
         "province_id": college.province_id, "school_id": college.school_id, "college_id": college.id,
         "study_level": "本科", "active": True, "identity_id": identity_ids[p], "created_at": now, "updated_at": now}
        for i, p in enumerate(phones)])
    account_ids = db.scalars(select(Account.id).where(Account.phone.in_(phones))).all()
    db.execute(insert(AccountCohort), [{"account_id": a, "cohort": 2026} for a in account_ids])
    db.execute(insert(Follower), [{"openid": o, "following": True, "tags": "", "updated_at": now} for o in openids])
    db.commit()
    return openids


def start_worker(database_url, redis_url, simulator, log_path: Path) -> subprocess.Popen:
    env = dict(os.environ, FDY_ENV="testing", DATABASE_URL=database_url, REDIS_URL=redis_url,
               WECHAT_API_BASE=simulator.url, WECHAT_OAUTH_BASE=simulator.url,
               PUBLIC_BASE_URL="http://127.0.0.1:5000")
    log = open(log_path, "ab")
    # Its own process group: the kill takes the worker, its scheduler and its work-horse at once.
    return subprocess.Popen([str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "worker"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def kill_group(proc: subprocess.Popen, sig=signal.SIGKILL) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    proc.wait(timeout=15)


def open_rows(db, task_id) -> int:
    db.rollback()
    return db.scalar(select(func.count(Notification.id)).where(
        Notification.task_id == task_id, Notification.state.in_(("pending", "sending"))))


def test_sigkill_mid_fanout_then_restart_sends_each_exactly_once(factory, db, simulator, database_url, redis_url,
                                                                 tmp_path):
    school = factory.school()
    college = factory.college(school)
    issuer = factory.staff(SCHOOL, school)
    factory.commit()
    openids = bulk_counselors(db, college, N)
    for openid in openids:
        simulator.add_user(openid)
    task = make_task(db, issuer, title="全员任务")
    assert task.recipient_count == N
    # A little latency per call so the kill lands mid-way.
    simulator.add_faults({"path": TEMPLATE_PATH, "delay": 0.003})
    notify.start_dispatch_fanout(task.id)

    log_path = tmp_path / "worker.log"
    t0 = time.monotonic()
    first = start_worker(database_url, redis_url, simulator, log_path)
    second = None
    try:
        deadline = time.monotonic() + 60
        while simulator.stats()["deliveries"] < N // 3:
            assert first.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "the first worker made no progress"
            time.sleep(0.05)
        t_kill = time.monotonic()
        print(f"first worker: {simulator.stats()['deliveries']} deliveries in {t_kill - t0:.1f}s")
        kill_group(first)
        at_kill = simulator.stats()["deliveries"]
        assert N // 3 <= at_kill < N, at_kill

        second = start_worker(database_url, redis_url, simulator, log_path)
        deadline = time.monotonic() + 90
        while open_rows(db, task.id):
            assert second.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, (open_rows(db, task.id), log_path.read_text()[-3000:])
            time.sleep(0.25)
        print(f"killed at {at_kill} deliveries; finished {time.monotonic() - t_kill:.1f}s after the kill")
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                kill_group(proc, signal.SIGTERM)
    simulator.clear_faults()

    stats = simulator.stats()
    assert stats["deliveries"] == N, stats
    per_user = collections.Counter(m["openid"] for m in simulator.state.inbox if m["kind"] == "template")
    assert len(per_user) == N and set(per_user.values()) == {1}
    states = collections.Counter(db.scalars(select(Notification.state).where(Notification.task_id == task.id)))
    assert states == {"sent": N}
