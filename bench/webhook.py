"""Webhook throughput: fdy under gunicorn vs a bare WeRoBot echo app, same load, one run.

    python bench/webhook.py --preset small [--database-url URL] [--users 20] [--seconds 10]

Starts two gunicorn servers (gunicorn.conf.py with 2 workers each, free loopback ports): the
fdy app (FDY_ENV=development, production code paths, the benchmark's database and Redis db) and
bench/echo_app.py. N client threads, one per WeChat user (bound counselors
that received a task), send signed `任务`, `完成 N`, `进展` in turn, each
request on a fresh connection (as WeChat's servers make them). After a warm-up of each, echo and fdy alternate in --rounds rounds (so a change
in the machine's load hits both alike), each for the same total time.
Prints requests/s, p50/p99 latency and the ratio fdy/echo, and for each app the machine's
CPU per request by process (gunicorn workers, redis-server, mariadbd, this load generator,
the rest; bench/cpu_meter.py): where fdy's extra cost per request goes.
Targets: ratio >= 0.5, fdy p99 <= 50 ms (with the national data loaded).
"""
from __future__ import annotations

import hashlib
import http.client
import itertools
import os
import random
import sys
import threading
import time
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (step_parser, DATA_DIR, PYTHON, ROOT, TOKEN, Children, app_env, db_label,  # noqa: E402
                          default_database_url, free_port, make_app, print_json_line, redacted, summary_ms,
                          verdict, wait_http)
from bench.cpu_meter import CpuMeter, describe  # noqa: E402

RATIO_TARGET = 0.5
P99_TARGET_MS = 50.0
MAX_REQUESTS = 200_000  # hard bound per phase, whatever --seconds says

_msg_ids = itertools.count(random.SystemRandom().randint(10**15, 5 * 10**15))


def sign(timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([TOKEN, timestamp, nonce])).encode()).hexdigest()


def text_xml(openid: str, content: str) -> bytes:
    return ("<xml><ToUserName><![CDATA[gh_fdy]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{escape(content)}]]></Content><MsgId>{next(_msg_ids)}</MsgId></xml>").encode()


def post(port: int, openid: str, content: str, timeout: float = 10.0) -> tuple[int, str]:
    timestamp, nonce = str(int(time.time())), str(random.randint(10**8, 10**9))
    path = f"/wechat?timestamp={timestamp}&nonce={nonce}&signature={sign(timestamp, nonce)}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body=text_xml(openid, content), headers={"Content-Type": "text/xml"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


# What a good reply contains, per command (SPEC 9.5 markers where there are some).
EXPECT = {"任务": ("任务页",), "完成": ("已完成",), "进展": ("落实率",)}
NOT_UNDERSTOOD = "没有看懂"


def reply_ok(command: str, status: int, body: str, echo: bool) -> bool:
    if status != 200 or "<xml" not in body:
        return False
    if echo:
        return True
    key = command.split()[0]
    if NOT_UNDERSTOOD in body:
        return False
    return any(marker in body for marker in EXPECT.get(key, ("",)))


def load(port: int, users: list, commands: list[str], seconds: float, echo: bool, max_requests: int = MAX_REQUESTS,
         keep_samples: bool = False) -> dict:
    """N threads, one per user, each sending its commands in turn until time is up."""
    latencies: list[list[float]] = [[] for _ in users]
    errors = [0] * len(users)
    bad = [0] * len(users)
    samples: dict[str, str] = {}
    budget = itertools.count()
    stop_at = time.perf_counter() + seconds

    def run(i: int, openid: str):
        for k in itertools.count(i):
            if time.perf_counter() >= stop_at or next(budget) >= max_requests:
                return
            cmd = commands[k % len(commands)]
            t0 = time.perf_counter()
            try:
                status, body = post(port, openid, cmd)
            except OSError:
                errors[i] += 1
                continue
            latencies[i].append(time.perf_counter() - t0)
            if not reply_ok(cmd, status, body, echo):
                bad[i] += 1
                samples.setdefault(cmd, f"{status} {body[:300]}")

    threads = [threading.Thread(target=run, args=(i, u.openid), daemon=True) for i, u in enumerate(users)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 30)
    elapsed = time.perf_counter() - t0
    flat = [x for per in latencies for x in per]
    result = summary_ms(flat)
    result.update(rps=len(flat) / elapsed if elapsed else 0.0, seconds=elapsed, errors=sum(errors),
                  unexpected=sum(bad), unexpected_samples=samples)
    if keep_samples:
        result["samples"] = flat
    return result


def start_gunicorn(children: Children, name: str, target: str, env: dict, workers: int) -> tuple[int, int]:
    """(port, process group of the master and its workers)."""
    port = free_port()
    # The production settings (gunicorn.conf.py: worker model, threads) for both apps; -w and -b on top.
    args = [PYTHON, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "-w", str(workers),
            "-b", f"127.0.0.1:{port}", "--graceful-timeout", "5", "--log-level", "warning", target]
    proc = children.start(name, args, env=env)
    wait_http(f"http://127.0.0.1:{port}/healthz" if target == "wsgi:app" else f"http://127.0.0.1:{port}/",
              timeout=60, proc=proc)
    return port, proc.pid  # Children starts each in a session of its own: pgid == pid


def prepare(database_url: str, redis_url: str, users: int) -> tuple[list, list[str], dict]:
    """The senders and their commands: bound counselors that received the largest task."""
    from bench import scenario
    from models import db

    app = make_app(database_url, redis_url)
    try:
        with app.app_context():
            session = db.session
            task = scenario.largest_task(session)
            source = "existing"
            if task is None:
                issuer = scenario.ministry_account(session)
                task, source = scenario.create_task(session, issuer)
            task_id, recipients = task
            senders = scenario.bound_counselors(session, users, task_id=task_id)
    finally:
        app.extensions["fdy.db"].engine.dispose()
    commands = ["任务", f"完成 {task_id}", "进展"]
    return senders, commands, {"task_id": task_id, "recipients": recipients, "task_source": source}


def steady_state_tags(database_url: str, redis_url: str, senders: list) -> None:
    """As after a menu push: the role tag ids cached in Redis and worn by the senders, so the
    per-message tag recheck (handlers/binding.py) finds nothing to do, as in production."""
    try:
        from menus.data import ROLE_TAGS
        from bot.role_tags import TAG_CACHE_KEY, TAG_CACHE_TTL
    except ImportError:
        return
    import redis as redis_lib
    from sqlalchemy import update

    from models import Follower
    from models.base import make_engine

    ids = {role: 100 + i for i, role in enumerate(ROLE_TAGS)}
    conn = redis_lib.Redis.from_url(redis_url)
    conn.hset(TAG_CACHE_KEY, mapping=ids)
    conn.expire(TAG_CACHE_KEY, TAG_CACHE_TTL)
    engine = make_engine(database_url)
    try:
        with engine.begin() as db_conn:
            db_conn.execute(update(Follower).where(Follower.openid.in_([s.openid for s in senders]))
                            .values(tags=str(ids.get("counselor", 100))))
    finally:
        engine.dispose()


def run(database_url: str, redis_url: str, users: int = 20, seconds: float = 10.0, warmup: float = 2.0,
        workers: int = 2, rounds: int = 3) -> dict:
    senders, commands, info = prepare(database_url, redis_url, users)
    if not senders:
        raise SystemExit("no bound counselor received a task: run bench/generate.py first")
    print(f"  {len(senders)} users, task #{info['task_id']} ({info['recipients']:,} recipients, {info['task_source']}); "
          f"commands {commands}", flush=True)
    import redis as redis_lib

    redis_lib.Redis.from_url(redis_url).flushdb()  # the benchmark's own db only
    steady_state_tags(database_url, redis_url, senders)
    results = {}
    with Children() as children:
        env = app_env(database_url, redis_url)
        echo_port, echo_group = start_gunicorn(children, "gunicorn-echo", "bench.echo_app:app", env, workers)
        fdy_port, fdy_group = start_gunicorn(children, "gunicorn-fdy", "wsgi:app", env, workers)
        targets = (("echo", echo_port, True), ("fdy", fdy_port, False))
        meters = {"echo": CpuMeter(echo_group), "fdy": CpuMeter(fdy_group)}
        for name, port, echo in targets:
            load(port, senders, commands, warmup, echo)
        # Interleaved rounds: a change in the machine's load hits both apps alike.
        rounds_out: dict[str, list[dict]] = {"echo": [], "fdy": []}
        for _ in range(rounds):
            for name, port, echo in targets:
                meters[name].start()
                part = load(port, senders, commands, seconds / rounds, echo, keep_samples=True)
                meters[name].stop(part["n"])
                rounds_out[name].append(part)
        for name, _port, _echo in targets:
            parts = rounds_out[name]
            flat = [x for part in parts for x in part["samples"]]
            elapsed = sum(part["seconds"] for part in parts)
            results[name] = {**summary_ms(flat), "rps": len(flat) / elapsed if elapsed else 0.0, "seconds": elapsed,
                             "errors": sum(p["errors"] for p in parts), "unexpected": sum(p["unexpected"] for p in parts),
                             "unexpected_samples": {k: v for p in parts for k, v in p["unexpected_samples"].items()},
                             "round_rps": [round(p["rps"], 1) for p in parts], "cpu_us": meters[name].per_request()}
            r = results[name]
            print(f"  {name:5s} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
                  f"n={r['n']} errors={r['errors']} unexpected={r['unexpected']} rounds {r['round_rps']}", flush=True)
            print(f"        {describe(r['cpu_us'])}", flush=True)
            for cmd, sample in r["unexpected_samples"].items():
                print(f"    unexpected reply to {cmd!r}: {sample[:200]!r}", flush=True)
    ratio = results["fdy"]["rps"] / results["echo"]["rps"] if results["echo"]["rps"] else 0.0
    out = {
        "database": db_label(database_url), "users": len(senders), "seconds": seconds, "workers": workers,
        "echo_rps": round(results["echo"]["rps"], 1), "fdy_rps": round(results["fdy"]["rps"], 1),
        "ratio": round(ratio, 3), "rounds": rounds,
        "echo_round_rps": results["echo"]["round_rps"], "fdy_round_rps": results["fdy"]["round_rps"], "echo_p50_ms": round(results["echo"]["p50_ms"], 1),
        "echo_p99_ms": round(results["echo"]["p99_ms"], 1), "fdy_p50_ms": round(results["fdy"]["p50_ms"], 1),
        "fdy_p99_ms": round(results["fdy"]["p99_ms"], 1), "fdy_errors": results["fdy"]["errors"],
        "echo_cpu_us": results["echo"]["cpu_us"], "fdy_cpu_us": results["fdy"]["cpu_us"],
        "fdy_unexpected": results["fdy"]["unexpected"], **info,
        "ratio_target": RATIO_TARGET, "p99_target_ms": P99_TARGET_MS,
        "ratio_ok": ratio >= RATIO_TARGET, "p99_ok": results["fdy"]["p99_ms"] <= P99_TARGET_MS,
    }
    print(f"  ratio fdy/echo {ratio:.3f} (target >= {RATIO_TARGET}: {verdict(out['ratio_ok'])}); "
          f"fdy p99 {out['fdy_p99_ms']:.1f} ms (target <= {P99_TARGET_MS:.0f}: {verdict(out['p99_ok'])})", flush=True)
    return out


def main(argv=None) -> int:
    p = step_parser(__doc__)
    p.add_argument("--users", type=int, default=20, help="concurrent WeChat users (threads)")
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds per app")
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3, help="interleaved echo/fdy rounds sharing --seconds")
    args = p.parse_args(argv)
    url = args.database_url or os.environ.get("BENCH_DATABASE_URL") or default_database_url(args.preset)
    print(f"webhook: {redacted(url)}, {args.users} users, {args.seconds:.0f} s each, {args.workers} gunicorn workers",
          flush=True)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    out = run(url, args.redis_url, args.users, args.seconds, args.warmup, args.workers, max(1, args.rounds))
    print_json_line("webhook", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
