"""Peak hour: the pages right after a national dispatch, fdy beside a bare Flask page, one run.

    python bench/pages.py --preset small [--database-url URL] [--exchange-ms 150] [--seconds 12]

The task: the largest active one (fan-out's dispatch to every counselor of the cohort), or one
dispatched here through models.dispatch. fdy (wsgi:app) and bench/bare_pages.py run under the
same gunicorn.conf.py (--worker-class/--threads override it through GUNICORN_*), against the
project's simulator as WeChat (bench/sim_server.py) whose OAuth code exchange answers
--exchange-ms later. Then, each phase alternating fdy and bare in --rounds rounds:
- cold opens: distinct counselors, each a phone of its own, tap the task's link:
  /tasks/N → WeChat authorize → /auth/callback (code exchange) → /tasks/N;
- warm opens: the same phones (page session kept) open the task page again;
- student opens: fresh phones open the student links found on the counselors' task pages;
- progress opens: the ministry issuer (every recipient in scope) opens the progress page.
The bare app does the same shapes (its own OAuth round, pages of the same byte size).
Prints opens/s, p50/p99, the machine's CPU per open by process (bench/cpu_meter.py), the RSS of
each web worker (peak), and PASS/MISS against the targets below.
"""
from __future__ import annotations

import itertools
import os
import random
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import proc_memory, scenario  # noqa: E402
from bench.common import (DATA_DIR, PYTHON, ROOT, Children, app_env, db_label, default_database_url,  # noqa: E402
                          free_port, make_app, print_json_line, redacted, step_parser, verdict, wait_http)
from bench.cpu_meter import CpuMeter, describe  # noqa: E402
from bench.page_client import Browser, closed_loop  # noqa: E402

COLD_RATE_TARGET = 150.0
COLD_P99_TARGET_MS = 1000.0
WARM_RATIO_TARGET = 0.6
WARM_P99_TARGET_MS = 50.0
SHARE_RATIO_TARGET = 0.8
PROGRESS_P99_TARGET_MS = 300.0
RSS_TARGET_MB = 300.0
MAX_OPS = 500_000
PHASES = ("cold", "warm", "student", "progress")
SHARE_LINK = re.compile(rb"/share/[A-Za-z0-9_.~-]{1,300}")


def prepare(database_url: str, redis_url: str, phones: int) -> dict:
    """The task, its reachable counselors (the phones), the ministry issuer."""
    from models import Task, db
    from models.vocab import MINISTRY

    app = make_app(database_url, redis_url)
    try:
        with app.app_context():
            session = db.session
            task, source = scenario.largest_task(session), "existing"
            if task is None:
                task, source = scenario.create_task(session, scenario.ministry_account(session))
            task_id, recipients = task
            title = session.get(Task, task_id).title
            counselors = scenario.bound_counselors(session, phones, task_id=task_id)
            ministry = scenario.staff_sender(session, MINISTRY)
    finally:
        app.extensions["fdy.db"].engine.dispose()
    return {"task_id": task_id, "recipients": recipients, "task_source": source, "title": title,
            "counselors": [c.openid for c in counselors], "staff": ministry.openid if ministry else None}


def start_sim(children: Children, openids: list[str], exchange_ms: float) -> tuple[str, int]:
    users = DATA_DIR / "pages-openids.tsv"
    users.write_text("".join(f"{o}\t1\n" for o in openids))
    proc = children.start("pages-sim", [PYTHON, str(ROOT / "bench" / "sim_server.py"), "--users-file", str(users),
                                        "--oauth-delay-ms", str(exchange_ms), "--keep-calls", "1000"],
                          stdout=subprocess.PIPE)
    url = proc.stdout.readline().decode().strip()
    if not url.startswith("http"):
        raise RuntimeError("the simulator did not start")
    return url, proc.pid


def start_web(children: Children, name: str, target: str, env: dict) -> tuple[str, int]:
    """gunicorn -c gunicorn.conf.py TARGET on a free port: (base URL, master pid = process group)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "PUBLIC_BASE_URL": base}
    proc = children.start(name, [PYTHON, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
                                 "--log-level", "warning", target], env=env)
    wait_http(base + ("/healthz" if target == "wsgi:app" else "/page"), timeout=60, proc=proc)
    return base, proc.pid


class Phase:
    """One kind of open, fdy and bare side by side in interleaved rounds."""

    def __init__(self, name: str, threads: int, meters: dict[str, CpuMeter]):
        self.name, self.threads, self.meters = name, threads, meters
        self.parts: dict[str, list[dict]] = {"fdy": [], "bare": []}

    def run(self, side: str, op, seconds: float) -> None:
        meter = self.meters[side]
        meter.start()
        part = closed_loop(op, self.threads, seconds, MAX_OPS)
        meter.stop(part["n"])
        self.parts[side].append(part)

    def result(self, side: str) -> dict:
        from bench.common import summary_ms

        parts = self.parts[side]
        flat = [x for p in parts for x in p["latencies"]]
        elapsed = sum(p["seconds"] for p in parts)
        return {**summary_ms(flat), "rate": len(flat) / elapsed if elapsed else 0.0,
                "errors": sum(p["errors"] for p in parts), "unexpected": sum(p["unexpected"] for p in parts),
                "samples": [s for p in parts for s in p["samples"]][:3],
                "cpu_us": self.meters[side].per_request()}


def run(database_url: str, redis_url: str, exchange_ms: float = 150.0, seconds: float = 12.0, rounds: int = 2,
        cold_threads: int = 64, threads: int = 16, staff_threads: int = 4, phones: int = 20_000,
        worker_class: str | None = None, worker_threads: int | None = None,
        only: tuple[str, ...] = PHASES) -> dict:
    info = prepare(database_url, redis_url, phones)
    if not info["counselors"] or not info["staff"]:
        raise SystemExit("no bound counselor received a task, or no ministry account: run bench/generate.py first")
    print(f"  task #{info['task_id']} ({info['recipients']:,} recipients, {info['task_source']}); "
          f"{len(info['counselors']):,} phones of reachable counselors", flush=True)
    import redis as redis_lib

    redis_lib.Redis.from_url(redis_url).flushdb()  # the benchmark's own db only
    task_id, title = info["task_id"], info["title"].encode()
    gunicorn_env = {}
    if worker_class:
        gunicorn_env["GUNICORN_WORKER_CLASS"] = worker_class
    if worker_threads:
        gunicorn_env["GUNICORN_THREADS"] = worker_threads
    out: dict = {"database": db_label(database_url), "exchange_ms": exchange_ms, "rounds": rounds,
                 **{k: info[k] for k in ("task_id", "recipients", "task_source")}}
    with Children() as children:
        sim, sim_group = start_sim(children, [*info["counselors"], info["staff"]], exchange_ms)
        env = app_env(database_url, redis_url, sim, **gunicorn_env)
        fdy, fdy_group = start_web(children, "pages-fdy", "wsgi:app", env)
        bare, bare_group = start_web(children, "pages-bare", "bench.bare_pages:app", env)
        out["worker_class"] = worker_class or "gunicorn.conf.py"
        phones = iter(info["counselors"])
        warm_phones: list[Browser] = []
        bare_phones: list[Browser] = []
        share_links: list[str] = []
        sizes: dict[str, int] = {}

        def fdy_cold(_k):
            b = Browser(next(phones), sim)
            status, body, hops = b.open(f"{fdy}/tasks/{task_id}")
            ok = status == 200 and title in body and hops == 4
            if ok:
                warm_phones.append(b)
                sizes.setdefault("task", len(body))
                if len(share_links) < 200:
                    share_links.extend(m.decode() for m in SHARE_LINK.findall(body)[:1])
            return ok, f"{status} hops={hops} {body[:200]!r}"

        bare_ids = itertools.cycle(info["counselors"])

        def bare_cold(_k):
            b = Browser(next(bare_ids), sim)
            status, body, hops = b.open(f"{bare}/tasks/1?size={sizes.get('task', 4000)}")
            if status == 200 and len(bare_phones) < 20_000:
                bare_phones.append(b)
            return status == 200 and hops == 4, f"{status} hops={hops} {body[:200]!r}"

        # Warm-up (not measured): both apps' workers loaded, the sizes of fdy's pages known.
        closed_loop(fdy_cold, 8, 2.0, 200)
        closed_loop(bare_cold, 8, 2.0, 200)
        staff = Browser(info["staff"], sim)
        status, body, _hops = staff.open(f"{fdy}/progress/{task_id}")
        if status != 200:
            raise SystemExit(f"the progress page answered {status}: {body[:300]!r}")
        sizes["progress"] = len(body)
        if share_links:
            status, body, _hops = Browser().open(fdy + share_links[0])
            sizes["share"] = len(body) if status == 200 else 0
        print(f"  page sizes (bytes): {sizes}; worker model {out['worker_class']}", flush=True)

        def meters():
            return {"fdy": CpuMeter(fdy_group, sim=sim_group), "bare": CpuMeter(bare_group, sim=sim_group)}

        def warm(pool, url):
            def op(_k):
                status, body, hops = random.choice(pool).open(url)
                return status == 200 and hops == 1, f"{status} hops={hops} {body[:200]!r}"
            return op

        def student(url_of):
            def op(k):
                status, body, hops = Browser().open(url_of(k))
                return status == 200 and hops == 1, f"{status} {body[:200]!r}"
            return op

        def staff_op(browser, url):
            def op(_k):
                status, body, hops = browser.open(url)
                return status == 200 and hops == 1, f"{status} hops={hops} {body[:200]!r}"
            return op

        bare_staff = Browser(info["staff"], sim)
        bare_staff.open(f"{bare}/tasks/1")
        plan = [
            ("cold", cold_threads, fdy_cold, bare_cold),
            ("warm", threads, warm(warm_phones, f"{fdy}/tasks/{task_id}"),
             warm(bare_phones, f"{bare}/tasks/1?size={sizes.get('task', 4000)}")),
            ("student", threads, student(lambda k: fdy + share_links[k % len(share_links)]) if share_links else None,
             student(lambda k: f"{bare}/page?size={sizes.get('share', 4000)}")),
            ("progress", staff_threads, staff_op(staff, f"{fdy}/progress/{task_id}"),
             staff_op(bare_staff, f"{bare}/tasks/1?size={sizes['progress']}")),
        ]
        phases = {}
        for name, n, fdy_op, bare_op in plan:
            if name not in only:
                continue
            if fdy_op is None:
                print(f"  {name}: no student link on the task page; skipped", flush=True)
                continue
            phase = phases[name] = Phase(name, n, meters())
            for _ in range(rounds):
                phase.run("fdy", fdy_op, seconds / rounds)
                phase.run("bare", bare_op, seconds / rounds)
            report(phase)
        out["web_workers"] = [{"pid": w["pid"], "rss_mb": round(w["rss"] / proc_memory.MB, 1),
                               "peak_mb": round(w["peak"] / proc_memory.MB, 1)}
                              for w in proc_memory.web_workers(fdy_group)]
        out["bare_workers"] = [{"pid": w["pid"], "peak_mb": round(w["peak"] / proc_memory.MB, 1)}
                               for w in proc_memory.web_workers(bare_group)]
    for name, phase in phases.items():
        f, b = phase.result("fdy"), phase.result("bare")
        out[name] = {"fdy_rate": round(f["rate"], 1), "fdy_p50_ms": round(f["p50_ms"], 1),
                     "fdy_p99_ms": round(f["p99_ms"], 1), "bare_rate": round(b["rate"], 1),
                     "bare_p50_ms": round(b["p50_ms"], 1), "bare_p99_ms": round(b["p99_ms"], 1),
                     "ratio": round(f["rate"] / b["rate"], 3) if b["rate"] else 0.0,
                     "fdy_errors": f["errors"] + f["unexpected"], "fdy_cpu_us": f["cpu_us"], "bare_cpu_us": b["cpu_us"],
                     "n": f["n"]}
    return judge(out)


def report(phase: Phase) -> None:
    for side in ("fdy", "bare"):
        r = phase.result(side)
        print(f"  {phase.name:8s} {side:4s} {r['rate']:8.1f} opens/s  p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms"
              f"  n={r['n']} errors={r['errors']} unexpected={r['unexpected']}  ({phase.threads} phones at once)",
              flush=True)
        print(f"                {describe(r['cpu_us'], 'open')}", flush=True)
        for sample in r["samples"]:
            print(f"      unexpected: {sample[:240]}", flush=True)


def judge(out: dict) -> dict:
    cold, warm, student, progress = (out.get(k) or {} for k in ("cold", "warm", "student", "progress"))
    checks = {
        "cold_ok": bool(cold) and cold["fdy_rate"] >= COLD_RATE_TARGET and cold["fdy_p99_ms"] <= COLD_P99_TARGET_MS
        and not cold["fdy_errors"],
        "warm_ok": bool(warm) and warm["ratio"] >= WARM_RATIO_TARGET and warm["fdy_p99_ms"] <= WARM_P99_TARGET_MS
        and not warm["fdy_errors"],
        "student_ok": bool(student) and student["ratio"] >= SHARE_RATIO_TARGET and not student["fdy_errors"],
        "progress_ok": bool(progress) and progress["fdy_p99_ms"] <= PROGRESS_P99_TARGET_MS
        and not progress["fdy_errors"],
        "rss_ok": bool(out["web_workers"]) and all(w["peak_mb"] <= RSS_TARGET_MB for w in out["web_workers"]),
    }
    out.update(checks)
    print(f"  cold opens {cold.get('fdy_rate', 0):.1f}/s, p99 {cold.get('fdy_p99_ms', 0):.0f} ms "
          f"(>= {COLD_RATE_TARGET:.0f}/s, p99 <= {COLD_P99_TARGET_MS:.0f} ms): {verdict(checks['cold_ok'])}", flush=True)
    print(f"  warm task page {warm.get('ratio', 0):.3f} x bare, p99 {warm.get('fdy_p99_ms', 0):.1f} ms "
          f"(>= {WARM_RATIO_TARGET}, <= {WARM_P99_TARGET_MS:.0f} ms): {verdict(checks['warm_ok'])}", flush=True)
    print(f"  student page {student.get('ratio', 0):.3f} x bare (>= {SHARE_RATIO_TARGET}): "
          f"{verdict(checks['student_ok'])}", flush=True)
    print(f"  progress page ({out['recipients']:,} recipients) p99 {progress.get('fdy_p99_ms', 0):.1f} ms "
          f"(<= {PROGRESS_P99_TARGET_MS:.0f} ms): {verdict(checks['progress_ok'])}", flush=True)
    print(f"  web workers, RSS now / peak: " + ", ".join(f"[{w['pid']}] {w['rss_mb']:.0f} / {w['peak_mb']:.0f} MB"
                                                       for w in out["web_workers"])
          + f" (<= {RSS_TARGET_MB:.0f} MB each): {verdict(checks['rss_ok'])}", flush=True)
    return out


def main(argv=None) -> int:
    p = step_parser(__doc__)
    p.add_argument("--exchange-ms", type=float, default=150.0, help="the simulator's OAuth code exchange delay")
    p.add_argument("--seconds", type=float, default=12.0, help="measured seconds per app and phase")
    p.add_argument("--rounds", type=int, default=2, help="interleaved fdy/bare rounds sharing --seconds")
    p.add_argument("--cold-threads", type=int, default=64, help="phones tapping at once in the cold phase")
    p.add_argument("--threads", type=int, default=16, help="phones at once in the warm and student phases")
    p.add_argument("--staff-threads", type=int, default=4, help="staff at once on the progress page")
    p.add_argument("--phones", type=int, default=20_000, help="distinct counselors available for cold opens")
    p.add_argument("--worker-class", default=None, help="override gunicorn.conf.py's worker_class (gthread, gevent, sync)")
    p.add_argument("--worker-threads", type=int, default=None, help="override gunicorn.conf.py's threads")
    p.add_argument("--phases", default=",".join(PHASES), help="comma-separated subset of " + ",".join(PHASES))
    args = p.parse_args(argv)
    url = args.database_url or os.environ.get("BENCH_DATABASE_URL") or default_database_url(args.preset)
    print(f"pages: {redacted(url)}, code exchange {args.exchange_ms:.0f} ms, {args.seconds:.0f} s per app and phase",
          flush=True)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    out = run(url, args.redis_url, args.exchange_ms, args.seconds, max(1, args.rounds), args.cold_threads,
              args.threads, args.staff_threads, args.phones, args.worker_class, args.worker_threads,
              tuple(args.phases.split(",")))
    print_json_line("pages", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
