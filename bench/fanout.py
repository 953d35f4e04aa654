"""Fan-out: a ministry task to every counselor, sent by 2 workers through the WeChat simulator.

    python bench/fanout.py --preset small [--database-url URL] [--workers 2]

1. preview: what `派发` does (models.dispatch.parse + count_recipients +
   preview_text) for a ministry task to every counselor of the cohort.
   Target <= 1 s at 150,000 counselors.
2. 确认: models.dispatch.create_task + jobs.dispatch.start_dispatch_fanout, then
   the fan_out job (run by a worker) writes the notification rows and queues
   the send_batch jobs. "queued" = the fan_out job has finished. Target <= 10 s.
3. send rate: 2 `flask --app wsgi worker` processes send the template messages
   to the simulator (bench/sim_server.py, a subprocess preloaded with every
   counselor's openid); rate = messages / (last delivery - first delivery).
4. baseline: one requests.Session loop sends the same messages (the bytes
   jobs.notify sends for this task) to the same simulator, half of them just
   before the workers' phase and half just after it; the baseline rate is the
   mean of the two, so that a change of machine load over the run shows in
   both sides rather than in one. Target: workers' rate / baseline >= 0.7.
5. exactly one message per reachable counselor: simulator deliveries ==
   reachable recipients, duplicates 0, every user holding exactly 1 message,
   and every notification row 'sent' or 'unreachable' in the database.
"""
from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import proc_memory  # noqa: E402
from bench.common import (step_parser, APP_ID, APP_SECRET, DATA_DIR, PYTHON, TEMPLATE_TASK_ID,  # noqa: E402
                          Children, app_env, db_label, default_database_url, make_app, print_json_line, redacted,
                          verdict)

PREVIEW_TARGET_S = 1.0
QUEUED_TARGET_S = 10.0
RATIO_TARGET = 0.7
RSS_TARGET_MB = 300.0  # each worker and work horse (issue 19)


def get_json(url: str, timeout: float = 30.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def write_users_file(session, path: Path) -> int:
    """Every bound counselor's openid with its following flag, for the simulator."""
    from sqlalchemy import select

    from models import Account, Follower, Identity
    from models.vocab import COUNSELOR

    rows = session.execute(select(Identity.openid, Follower.following)
                           .join(Account, Account.phone == Identity.phone)
                           .outerjoin(Follower, Follower.openid == Identity.openid)
                           .where(Account.level == COUNSELOR, Identity.openid.is_not(None))).all()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for openid, following in rows:
            fh.write(f"{openid}\t{0 if following is False else 1}\n")
    return len(rows)


def set_aside_earlier_tasks(session) -> int:
    """Tasks queries.py/webhook.py created through models.dispatch.create_task never had their fan-out
    queued; a starting worker would rightly send them now (resume_all) and mix them into this run."""
    from sqlalchemy import update

    from models import Task

    n = session.execute(update(Task).where(Task.status == "active").values(status="cancelled")).rowcount
    session.commit()
    return n or 0


def start_simulator(children: Children, users_file: Path) -> str:
    log = DATA_DIR / "sim-server.log"
    out = open(DATA_DIR / "sim-server.url", "w+b")
    proc = children.start("sim-server", [PYTHON, "bench/sim_server.py", "--users-file", str(users_file)],
                          env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent)), log=log,
                          stdout=out)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        out.seek(0)
        line = out.readline().decode().strip()
        if line.startswith("http://"):
            return line
        if proc.poll() is not None:
            raise RuntimeError(f"simulator exited with {proc.returncode}")
        time.sleep(0.2)
    raise RuntimeError("simulator did not start within 300 s")


def wait_for(predicate, timeout: float, every: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


def task_message(task, issuer_unit: str) -> tuple[str, dict, str]:
    """(template id, data, page url) of the message jobs.notify sends for `task`, from its own functions."""
    from jobs.notify_templates import KIND_TASK, task_url, template_data, template_id_for

    return template_id_for(KIND_TASK), template_data(task, KIND_TASK, issuer_unit), task_url(task.id)


def draft_task(session, issuer, draft):
    """The task 确认 is about to create (not saved), for the baseline run before it exists."""
    from sqlalchemy import func, select

    from models import Task
    from models.clock import clock

    next_id = (session.scalar(select(func.max(Task.id))) or 0) + 1
    return Task(id=next_id, title=draft.title, type=draft.type, deadline=draft.when("deadline"),
                live_start=draft.when("live_start"), created_at=clock())


def raw_loop(sim_url: str, openids: list[str], count: int, max_seconds: float, message: tuple[str, dict, str],
             tag: str) -> dict:
    """The baseline: one requests.Session sending template messages back to back, each encoded
    and posted as bot.wechat_api.WeChatClient posts it (UTF-8 JSON, same fields, same order)."""
    import requests

    template_id, data, page_url = message
    http = requests.Session()
    token = http.get(f"{sim_url}/cgi-bin/token", params={"grant_type": "client_credential", "appid": APP_ID,
                                                        "secret": APP_SECRET}, timeout=10).json()["access_token"]
    url = f"{sim_url}/cgi-bin/message/template/send"
    headers = {"Content-Type": "application/json; charset=utf-8"}
    sent = errors = 0
    t0 = time.perf_counter()
    deadline = t0 + max_seconds
    for i in range(count):
        body = {"touser": openids[i % len(openids)], "template_id": template_id, "data": data, "url": page_url,
                "client_msg_id": f"raw-{tag}-{i}"}
        reply = http.post(url, params={"access_token": token}, timeout=10, headers=headers,
                          data=json.dumps(body, ensure_ascii=False).encode("utf-8")).json()
        if reply.get("errcode", 0) == 0:
            sent += 1
        else:
            errors += 1
        if time.perf_counter() > deadline:
            break
    elapsed = time.perf_counter() - t0
    return {"sent": sent, "errors": errors, "seconds": round(elapsed, 2), "rate": sent / elapsed if elapsed else 0.0}


def following_openids(users_file: Path) -> list[str]:
    return [line.split("\t")[0] for line in users_file.read_text().splitlines() if line.endswith("\t1")]


def print_raw(label: str, raw: dict) -> None:
    print(f"  raw requests.Session loop {label}: {raw['sent']:,} messages in {raw['seconds']:.1f} s = "
          f"{raw['rate']:,.0f} msg/s ({raw['errors']} errors)", flush=True)


def run(database_url: str, redis_url: str, workers: int = 2, send_timeout: float | None = None,
        raw_max_seconds: float = 600.0) -> dict:
    import redis as redis_lib
    from rq.job import Job
    from sqlalchemy import func, select

    from bench import scenario
    from models import Notification, TaskRecipient, db
    from models import dispatch

    redis_conn = redis_lib.Redis.from_url(redis_url)
    redis_conn.flushdb()  # the benchmark's own db: no stale jobs, drafts or tokens
    out: dict = {"database": db_label(database_url), "workers": workers}
    users_file = DATA_DIR / "sim-users.tsv"
    with Children() as children:
        app = make_app(database_url, redis_url)
        try:
            with app.app_context():
                n_users = write_users_file(db.session, users_file)
            sim_url = start_simulator(children, users_file)
            app.config["WECHAT_API_BASE"] = sim_url
            print(f"  simulator {sim_url} with {n_users:,} counselor openids", flush=True)

            with app.app_context():
                set_aside = set_aside_earlier_tasks(db.session)
            if set_aside:
                print(f"  {set_aside} earlier benchmark task(s) (made by queries/webhook without notifications) set to "
                      f"cancelled, so the workers' start-up recovery (jobs.notify.resume_all) leaves them alone",
                      flush=True)
            env = app_env(database_url, redis_url, api_base=sim_url)
            worker_groups = [children.start(f"worker-{i}", [PYTHON, "-m", "flask", "--app", "wsgi", "worker"],
                                            env=env).pid for i in range(workers)]
            from rq import Worker

            # Workers up and listening before 确认: their start-up is not part of the fan-out.
            if not wait_for(lambda: len(Worker.all(connection=redis_conn)) >= workers, timeout=120):
                raise RuntimeError("workers did not start (see bench/.data/worker-*.log)")

            with app.app_context():
                session = db.session
                issuer = scenario.ministry_account(session)
                form = scenario.dispatch_form(scenario.task_fields("2026届全国毕业生就业工作部署"))
                # 1. preview, as the 派发 handler computes it (a fresh session each time, like a request)
                samples = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    draft, errors = dispatch.parse(session, issuer, form)
                    if errors:
                        raise RuntimeError(f"dispatch form refused: {errors}")
                    total, unreachable = dispatch.count_recipients(session, issuer, draft)
                    dispatch.preview_text(draft, total, unreachable)
                    samples.append(time.perf_counter() - t0)
                    session.rollback()
                preview_s = min(samples)
                out.update(recipients=total, unreachable=unreachable, preview_s=round(preview_s, 3),
                           preview_worst_s=round(max(samples), 3), preview_ok=preview_s <= PREVIEW_TARGET_S)
                print(f"  preview: {total:,} recipients, {unreachable:,} 未触达 in {preview_s:.3f} s (best of 3, "
                      f"worst {max(samples):.3f} s; target <= {PREVIEW_TARGET_S:.0f} s: {verdict(out['preview_ok'])})",
                      flush=True)

                # 4a. the first half of the baseline, workers idle, with the message 确认 will send
                issuer_unit = issuer.unit.name if issuer.unit else ""
                message_before = task_message(draft_task(session, issuer, draft), issuer_unit)
                session.rollback()
                openids = following_openids(users_file)
                raw_count = max(total - unreachable, 2)
                raw_before = raw_loop(sim_url, openids, raw_count // 2, raw_max_seconds / 2, message_before, "before")
                print_raw("before the workers", raw_before)
                get_json(f"{sim_url}/_bench/clear-inbox")  # the workers' phase is counted on its own

                # 2. 确认: the task and its recipients, then the fan-out job
                from jobs.dispatch import start_dispatch_fanout

                # RSS of the workers and the work horses they fork, polled through 确认 and the sending.
                memory = proc_memory.PeakSampler(*worker_groups).__enter__()
                t_confirm = time.time()
                t0 = time.perf_counter()
                task, total, unreachable = dispatch.create_task(session, issuer, draft)
                start_dispatch_fanout(task.id)
                confirm_s = time.perf_counter() - t0
                task_id = task.id
                message = task_message(task, issuer_unit)
                session.commit()
            expected = total - unreachable
            fanout_job_id = f"fanout-{task_id}-task"

            def fanout_done():
                try:
                    job = Job.fetch(fanout_job_id, connection=redis_conn)
                except Exception:
                    return None
                status = job.get_status(refresh=True)
                if status == "failed":
                    raise RuntimeError(f"fan_out job failed:\n{job.latest_result().exc_string if job.latest_result() else ''}")
                return job if status == "finished" else None

            job = wait_for(fanout_done, timeout=max(120.0, total / 1000))
            if job is None:
                raise RuntimeError("the fan_out job did not finish in time (are the workers running? see bench/.data/worker-*.log)")
            ended = job.ended_at.timestamp() if job.ended_at.tzinfo else job.ended_at.replace(
                tzinfo=__import__("datetime").timezone.utc).timestamp()
            queued_s = ended - t_confirm
            out.update(task_id=task_id, confirm_s=round(confirm_s, 3), queued_s=round(queued_s, 3),
                       queued_ok=queued_s <= QUEUED_TARGET_S, batches_queued=job.return_value())
            print(f"  确认 -> task #{task_id} committed in {confirm_s:.3f} s; all send jobs queued after "
                  f"{queued_s:.3f} s ({job.return_value()} notification rows; target <= {QUEUED_TARGET_S:.0f} s: "
                  f"{verdict(out['queued_ok'])})", flush=True)

            # 3. the workers' send rate, watched on the simulator
            timeout = send_timeout or max(180.0, expected / 100)
            first = last = None
            seen = 0
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                counts = get_json(f"{sim_url}/_bench/counts")
                now = time.perf_counter()
                if counts["deliveries"] and first is None:
                    first = now
                if counts["deliveries"] != seen:
                    seen, last = counts["deliveries"], now
                if seen >= expected:
                    break
                time.sleep(0.1)
            def open_rows_count():
                with app.app_context():
                    return db.session.scalar(select(func.count()).select_from(Notification).where(
                        Notification.task_id == task_id, Notification.state.in_(("pending", "sending"))))

            # The last chunk's outcomes are committed just after its last call returns.
            wait_for(lambda: open_rows_count() == 0, timeout=60)
            open_rows = open_rows_count()
            with app.app_context():
                session = db.session
                by_state = dict(session.execute(select(Notification.state, func.count())
                                                .where(Notification.task_id == task_id)
                                                .group_by(Notification.state)).all())
                rec_states = dict(session.execute(select(TaskRecipient.notify_state, func.count())
                                                  .where(TaskRecipient.task_id == task_id)
                                                  .group_by(TaskRecipient.notify_state)).all())
            counts = get_json(f"{sim_url}/_bench/counts")
            if counts.get("first_send") and counts.get("last_send") and counts["last_send"] > counts["first_send"]:
                first, last = counts["first_send"], counts["last_send"]  # the server's own clock
            send_s = (last - first) if first and last and last > first else float("nan")
            rate = seen / send_s if send_s == send_s and send_s > 0 else 0.0
            out.update(expected_messages=expected, delivered=seen, send_s=round(send_s, 2), send_rate=round(rate, 1),
                       notification_states=by_state, recipient_states=rec_states, open_rows=open_rows)
            print(f"  workers: {seen:,}/{expected:,} messages in {send_s:.1f} s = {rate:,.0f} msg/s "
                  f"(notifications {by_state}, recipients {rec_states})", flush=True)

            # 5. exactly once (before the baseline adds its own messages)
            counts = get_json(f"{sim_url}/_bench/counts")
            per_user = get_json(f"{sim_url}/_bench/per-user?/tasks/{task_id}")
            exactly_once = (counts["deliveries"] == expected and counts["duplicates"] == 0
                            and per_user == ({"1": expected} if expected else {}) and not open_rows
                            and by_state.get("sent", 0) == expected)
            out.update(sim_deliveries=counts["deliveries"], sim_duplicates=counts["duplicates"],
                       per_user_histogram=per_user, exactly_once=exactly_once)
            print(f"  exactly one per reachable counselor: {verdict(exactly_once)} (simulator deliveries "
                  f"{counts['deliveries']:,}, duplicates {counts['duplicates']}, messages per user {per_user})",
                  flush=True)

            memory.__exit__(None, None, None)
            peaks = memory.peaks()
            peak_mb = max((p["rss"] for p in peaks), default=0) / proc_memory.MB
            out.update(worker_peak_mb=round(peak_mb, 1), rss_ok=bool(peaks) and peak_mb <= RSS_TARGET_MB,
                       worker_processes_seen=len(peaks))
            print(f"  RSS during the fan-out, largest worker or work horse: {peak_mb:.0f} MB over {len(peaks)} "
                  f"processes (target <= {RSS_TARGET_MB:.0f} MB each: {verdict(out['rss_ok'])})", flush=True)

            # 4b. the second half of the baseline, workers stopped, with the message they sent
            for name, proc in list(children.procs):
                if name.startswith("worker-"):
                    children.stop(proc)
            get_json(f"{sim_url}/_bench/clear-inbox")
            size_before, size = (len(json.dumps(m, ensure_ascii=False).encode()) for m in (message_before, message))
            if size != size_before:  # the time field may differ by a minute, the length should not
                print(f"  note: the message sent before 确认 was {size_before} bytes, the task's {size}", flush=True)
            openids = openids[len(openids) // 2:] + openids[:len(openids) // 2]  # other users than before
            raw_after = raw_loop(sim_url, openids, raw_count - raw_count // 2, raw_max_seconds / 2, message, "after")
            print_raw("after the workers", raw_after)
            raw_rate = (raw_before["rate"] + raw_after["rate"]) / 2
            ratio = rate / raw_rate if raw_rate else 0.0
            drift = abs(raw_before["rate"] - raw_after["rate"]) / raw_rate if raw_rate else 0.0
            out.update(raw_sent=raw_before["sent"] + raw_after["sent"], raw_errors=raw_before["errors"] + raw_after["errors"],
                       raw_s=round(raw_before["seconds"] + raw_after["seconds"], 2),
                       raw_before_rate=round(raw_before["rate"], 1), raw_after_rate=round(raw_after["rate"], 1),
                       raw_rate=round(raw_rate, 1), raw_drift=round(drift, 3),
                       ratio=round(ratio, 3), ratio_ok=ratio >= RATIO_TARGET)
            print(f"  baseline (mean of before and after) {raw_rate:,.0f} msg/s, the two differ by {drift:.0%}; "
                  f"ratio workers/raw {ratio:.3f} (target >= {RATIO_TARGET}: {verdict(out['ratio_ok'])})", flush=True)
            if drift > 0.2:
                print("  note: the baseline moved by more than 20 % over the run (machine load changed); "
                      "the ratio against either half alone would be off by as much", flush=True)
        finally:
            app.extensions["fdy.db"].engine.dispose()
    return out


def main(argv=None) -> int:
    p = step_parser(__doc__)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--send-timeout", type=float, default=None, help="seconds to wait for all messages")
    p.add_argument("--raw-max-seconds", type=float, default=600.0, help="bound on the baseline loop (both halves)")
    args = p.parse_args(argv)
    url = args.database_url or os.environ.get("BENCH_DATABASE_URL") or default_database_url(args.preset)
    print(f"fanout: {redacted(url)}, {args.workers} workers", flush=True)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    out = run(url, args.redis_url, args.workers, args.send_timeout, args.raw_max_seconds)
    print_json_line("fanout", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
