"""The worker is SIGKILLed in the middle of a fan-out of 3,000 template messages, inside a chunk
whose messages WeChat has taken but the worker has not recorded yet; a new worker takes the rows
over and every counselor has exactly one message (SPEC 10: at most once, at least once)."""
from __future__ import annotations

import collections
import os
import signal
import subprocess
from pathlib import Path

from sqlalchemy import func, insert, select

from jobs import notify
from jobs.dispatch import start_dispatch_fanout
from models import Account, AccountCohort, Follower, Identity
from models.base import utcnow
from models.tasks import Notification
from models.vocab import COUNSELOR, SCHOOL
from tests.reliability import _children, wait_for
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
        {"username": f"kill{i:06d}", "phone": p, "name": f"辅导员{i}", "password_hash": "x", "openid": o, "failed_logins": 0,
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
    # A patient HTTP client: the call held by the simulator must still be waiting at the kill.
    env = dict(os.environ, FDY_ENV="testing", DATABASE_URL=database_url, REDIS_URL=redis_url,
               WECHAT_API_BASE=simulator.url, WECHAT_OAUTH_BASE=simulator.url,
               PUBLIC_BASE_URL="http://127.0.0.1:5000", HTTP_TIMEOUT="120")
    log = open(log_path, "ab")
    # Its own process group: the kill takes the worker, its scheduler and its work-horse at once.
    return subprocess.Popen([str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "worker"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def kill_group(proc: subprocess.Popen, sig=signal.SIGKILL) -> None:
    """The worker, its scheduler and its work-horse: rq gives the horse a process group of its
    own, so killing the worker's group alone leaves the horse sending."""
    for pid in _children(proc.pid):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    proc.wait(timeout=15)


def open_rows(db, task_id) -> int:
    db.rollback()
    return db.scalar(select(func.count(Notification.id)).where(
        Notification.task_id == task_id, Notification.state.in_(("pending", "sending"))))


def rows_in(db, task_id, state: str) -> int:
    db.rollback()
    return db.scalar(select(func.count(Notification.id)).where(
        Notification.task_id == task_id, Notification.state == state))


def test_sigkill_mid_chunk_then_takeover_sends_each_exactly_once(factory, db, simulator, database_url, redis_url,
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
    # One message, a third of the way in and off any chunk or batch boundary, is held by WeChat;
    # the rest of its chunk goes through. The worker dies while it waits: the chunk is half sent
    # (taken by WeChat, still 'sending' here), whatever the batch and chunk sizes are.
    held = openids[N // 3 + 77]
    fault = simulator.add_faults({"path": TEMPLATE_PATH, "openid": held, "delay": 15, "times": 1})[0]["id"]
    simulator.add_faults({"path": TEMPLATE_PATH, "delay": 0.002})
    start_dispatch_fanout(task.id)

    log_path = tmp_path / "worker.log"
    first = start_worker(database_url, redis_url, simulator, log_path)
    second = None
    try:
        def chunk_half_sent():
            assert first.poll() is None, log_path.read_text()[-3000:]
            sending = rows_in(db, task.id, "sending")
            sent = rows_in(db, task.id, "sent")
            held_call_started = all(f["id"] != fault for f in simulator.state.list_faults())
            # Everything of the chunk but the held message has reached WeChat.
            if held_call_started and sending > 1 and simulator.stats()["deliveries"] == sent + sending - 1:
                return sending
            return None

        sending_at_kill = wait_for(chunk_half_sent, 120, interval=0.05, what="a half-sent chunk")
        kill_group(first)
        at_kill = simulator.stats()["deliveries"]
        half_sent = sending_at_kill - 1
        assert N // 4 < at_kill < N and rows_in(db, task.id, "sending") == sending_at_kill
        assert at_kill % notify.CHUNK and at_kill % notify.BATCH_SIZE, at_kill

        second = start_worker(database_url, redis_url, simulator, log_path)
        def taken_over():
            assert second.poll() is None, log_path.read_text()[-3000:]
            return open_rows(db, task.id) == 0

        wait_for(taken_over, 120, interval=0.25, what="the second worker to send the rest")
        # The held call ends in the simulator too (its worker is gone): wait for it.
        wait_for(lambda: [c for c in simulator.calls(TEMPLATE_PATH) if c.get("fault") == fault], 60,
                 what="the held call to end")
        print(f"killed at {at_kill} deliveries with {half_sent} sent but unrecorded")
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                kill_group(proc, signal.SIGTERM)
    simulator.clear_faults()

    stats = simulator.stats()
    assert stats["deliveries"] == N, stats
    # The half-sent chunk went again with the same client_msg_ids, and WeChat dropped the repeats.
    assert stats["duplicates"] >= half_sent > 0, stats
    per_user = collections.Counter(m["openid"] for m in simulator.state.inbox if m["kind"] == "template")
    assert len(per_user) == N and set(per_user.values()) == {1}
    states = collections.Counter(db.scalars(select(Notification.state).where(Notification.task_id == task.id)))
    assert states == {"sent": N}
