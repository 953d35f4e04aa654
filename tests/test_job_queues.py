"""Visible and separated jobs (SPEC 9.2 /healthz, 9.3 `worker --queues`, `jobs`): real worker processes.

- /healthz counts a running worker, and no longer counts it once it stopped;
- a worker on `--queues sms` sends a binding code while another worker is busy with a large import;
- `flask --app wsgi jobs list` shows a failed job with its error, `jobs retry` puts it back.
"""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from rq.job import Job

import jobs
from jobs import status
from jobs.imports import start_import
from models.importer import COLUMNS

ROOT = Path(__file__).resolve().parent.parent


def wait_for(what, condition, deadline: float = 30.0, every: float = 0.1):
    """Poll `condition` until it returns something truthy; fail with `what` after `deadline` seconds."""
    end = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


@pytest.fixture
def worker_procs(app, database_url, redis_url, simulator, tmp_path):
    """Start `flask --app wsgi worker --queues …` processes; all stopped at the end of the test."""
    started: list[subprocess.Popen] = []

    def start(queues: str) -> subprocess.Popen:
        env = dict(os.environ, FDY_ENV="testing", DATABASE_URL=database_url, REDIS_URL=redis_url,
                   WECHAT_API_BASE=simulator.url, WECHAT_OAUTH_BASE=simulator.url,
                   SMS_BACKEND="http", SMS_HTTP_URL=simulator.url + "/_sim/sms",
                   PUBLIC_BASE_URL=app.config["PUBLIC_BASE_URL"], WECHAT_AES_KEY="")
        log = open(tmp_path / f"worker-{queues}-{len(started)}.log", "ab")
        proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "worker", "--queues", queues],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            # rq's work-horse is a process group of its own: kill it by id, with the worker's group.
            horses = descendants(proc.pid)
            os.killpg(proc.pid, signal.SIGKILL)
            for pid in horses:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.wait(timeout=15)


def descendants(pid: int) -> list[int]:
    """Ids of every process below `pid` (from /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found.extend(children)
        frontier.extend(children)
    return found


def stop(proc: subprocess.Popen) -> None:
    """A graceful stop (systemd's SIGTERM): the worker finishes and unregisters."""
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def health(client) -> dict:
    response = client.get("/healthz")
    assert response.status_code == 200, response.data
    return response.get_json()


def test_healthz_counts_a_running_and_a_stopped_worker(app, client, worker_procs):
    body = health(client)
    assert body["workers"] == 0 and body["failed"] == 0
    assert set(body["queues"]) == set(jobs.QUEUE_NAMES)
    proc = worker_procs("sms")
    wait_for("the worker to register", lambda: health(client)["workers"] == 1)
    # A job done means the worker is in its loop (a SIGTERM during rq's start-up kills it unregistered).
    with app.app_context():
        probe = jobs.enqueue("os.getpid", queue_name=jobs.SMS)
    wait_for("the worker to run a job", lambda: probe.get_status(refresh=True) == "finished")
    stop(proc)
    wait_for("the stopped worker to drop out", lambda: health(client)["workers"] == 0, deadline=10)


def test_an_idle_worker_on_every_queue_keeps_listening(app, client, worker_procs):
    """`make run` and deploy/ start workers on every queue (the sweep ticker too). An idle worker
    must outlive the app's 1 s Redis socket timeout and still take a job that comes later."""
    proc = worker_procs(",".join(jobs.QUEUE_NAMES))
    wait_for("the worker to register", lambda: health(client)["workers"] == 1)
    with app.app_context():
        first = jobs.enqueue("os.getpid", queue_name=jobs.SMS)
    wait_for("the worker to run a job", lambda: first.get_status(refresh=True) == "finished")
    idle_until = time.monotonic() + 3.5   # longer than the app client's socket timeout
    while time.monotonic() < idle_until:
        assert proc.poll() is None, "the idle worker exited"
        time.sleep(0.25)
    with app.app_context():
        later = jobs.enqueue("os.getpid", queue_name=jobs.NOTIFY)
    wait_for("the idle worker to run a later job", lambda: later.get_status(refresh=True) == "finished")
    assert proc.poll() is None


def write_graduates(path: Path, n: int) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(COLUMNS)
        for i in range(n):
            out.writerow([f"B{i:07d}", f"学生{i}", "江苏省", "东湖大学", f"学院{i % 20}", f"专业{i % 7}", "", "本科",
                          "2026", "协议就业", "民营企业", "南京", "是"])


def test_sms_worker_sends_codes_while_another_is_busy_with_a_large_import(app, factory, db, simulator, live_server,
                                                                         worker_procs, tmp_path, monkeypatch):
    # An SMS gateway, as in production: the webhook queues the code instead of sending it inline.
    monkeypatch.setitem(app.config, "SMS_BACKEND", "http")
    monkeypatch.setitem(app.config, "SMS_HTTP_URL", simulator.url + "/_sim/sms")
    college = factory.college()
    counselor = factory.counselor(college)
    factory.commit()
    big = tmp_path / "graduates.csv"
    write_graduates(big, 150_000)
    importer = worker_procs("bulk")
    worker_procs("sms")
    with app.test_client() as client:
        wait_for("both workers to register", lambda: health(client)["workers"] == 2)
    with app.app_context():
        job = start_import(str(big))
    conn = jobs.queue(jobs.BULK, app).connection
    wait_for("the import to start", lambda: Job.fetch(job.id, connection=conn).get_status() == "started")

    openid = simulator.add_user()["openid"]
    reply = simulator.send(openid, text="绑定 " + counselor.phone)["content"]
    assert "验证码已发送" in reply
    wait_for("the code SMS", lambda: simulator.sms(phone=counselor.phone), deadline=60)
    # The code went out while the import was still running on the other worker.
    assert Job.fetch(job.id, connection=conn).get_status() == "started"
    assert importer.poll() is None


def failing_job(reason: str) -> None:
    raise ValueError(reason)


def test_jobs_command_lists_failed_jobs_with_their_error_and_retries_them(app, runner, run_jobs):
    with app.app_context():
        job = jobs.enqueue(failing_job, "导入文件不存在", queue_name=jobs.DEFAULT, job_id="ops-fails-once")
    run_jobs()
    listing = runner.invoke(args=["jobs", "list"])
    assert listing.exit_code == 0, listing.output
    assert "失败的任务：1" in listing.output
    assert job.id in listing.output and "ValueError: 导入文件不存在" in listing.output
    with app.test_client() as client:
        assert health(client)["failed"] == 1

    retried = runner.invoke(args=["jobs", "retry", job.id])
    assert retried.exit_code == 0 and "已重新排队 1 个任务" in retried.output
    with app.app_context():
        assert status.failed_count() == 0
        assert status.queue_depths()[jobs.DEFAULT] == 1
    assert runner.invoke(args=["jobs", "retry", "no-such-job"]).exit_code == 1


def test_worker_refuses_an_unknown_queue(runner):
    result = runner.invoke(args=["worker", "--queues", "sms,imports"])
    assert result.exit_code != 0 and "imports" in result.output
