"""All benchmarks on SQLite, then on MariaDB, and a summary table.

    python bench/run_all.py --preset small                 # what `make bench` runs
    python bench/run_all.py --preset national --mariadb-url 'mysql+pymysql://root@127.0.0.1:3306/fdy_bench_national?charset=utf8mb4'

MariaDB runs when --mariadb-url is given or 127.0.0.1:3306 answers (then the
database `fdy_bench_<preset>` is used, created if missing; an InnoDB buffer pool under 2 GiB is raised
to 2 GiB when the user may, see bench/common.ensure_buffer_pool). Each step is its own
process (generate, queries, webhook, fanout, pages); their output streams through
and their BENCH-RESULT lines make the table. Redis: db 9 unless
--redis-url / BENCH_REDIS_URL says otherwise (the benchmarks flush it).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (DATA_DIR, DEFAULT_REDIS_URL, PYTHON, ROOT, db_label, default_database_url,  # noqa: E402
                          ensure_buffer_pool, ensure_mariadb_database, mariadb_reachable, redacted)

# One database per preset, as SQLite has one file per preset: `make bench` (small) must not
# overwrite the national data set a longer run generated.
DEFAULT_MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/fdy_bench_{preset}?charset=utf8mb4"
STEPS = ("generate", "queries", "webhook", "fanout", "pages")
STEP_TIMEOUT = {"small": 900, "tiny": 300, "medium": 3600, "national": 4 * 3600}


def run_step(step: str, args: list[str], timeout: float) -> dict | None:
    """Run bench/<step>.py, stream its output, return its BENCH-RESULT (None on failure)."""
    cmd = [PYTHON, str(ROOT / "bench" / f"{step}.py"), *args]
    print(f"\n$ {' '.join(redacted(a) if '://' in a else a for a in cmd[1:])}", flush=True)
    result = None
    proc = subprocess.Popen(cmd, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    deadline = time.monotonic() + timeout
    try:
        for line in proc.stdout:
            if line.startswith("BENCH-RESULT "):
                _, _tag, payload = line.split(" ", 2)
                result = json.loads(payload)
            else:
                print(line, end="", flush=True)
            if time.monotonic() > deadline:
                print(f"  {step}: over {timeout:.0f} s, stopped", flush=True)
                break
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    finally:
        if proc.poll() is None:
            import signal

            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    if proc.returncode != 0:
        print(f"  {step} failed (exit {proc.returncode})", flush=True)
        return None
    return result


def fmt(value, spec: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value != value:
        return "nan"
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return str(value)


def rows_for(results: dict) -> list[tuple[str, str, str, str]]:
    """(metric, target, value, verdict) lines of one database's results."""
    g, q, w, f, pg = (results.get(s) or {} for s in STEPS)
    imp = q.get("import") or {}
    stats = q.get("stats") or {}
    prog = q.get("progress") or {}

    def v(ok):
        return "-" if ok is None else ("PASS" if ok else "MISS")

    def cpu(per_request):
        return fmt((per_request or {}).get("machine"), ",")

    return [
        ("generate (all rows)", "-", f"{fmt(g.get('elapsed_s'), '.1f')} s", "-"),
        ("  graduates written", "-", f"{fmt(g.get('graduate_rows_per_s'), ',')} rows/s via {g.get('graduates_via', '-')}", "-"),
        ("进展 p50 / p95", "p95 <= 20 ms", f"{fmt(stats.get('p50_ms'), '.2f')} / {fmt(stats.get('p95_ms'), '.2f')} ms", v(stats.get("ok"))),
        (f"进度 N ({fmt(prog.get('recipients'), ',')} recipients) p50 / p95", "p95 <= 300 ms",
         f"{fmt(prog.get('p50_ms'), '.1f')} / {fmt(prog.get('p95_ms'), '.1f')} ms", v(prog.get("ok"))),
        ("import (create / update)", ">= 20,000 rows/s",
         f"{fmt(imp.get('create_rows_per_s'), ',')} / {fmt(imp.get('update_rows_per_s'), ',')} rows/s", v(imp.get("ok"))),
        ("webhook echo rps (p50 / p99)", "-",
         f"{fmt(w.get('echo_rps'), '.0f')} ({fmt(w.get('echo_p50_ms'), '.1f')} / {fmt(w.get('echo_p99_ms'), '.1f')} ms)", "-"),
        ("webhook fdy rps (p50 / p99)", "p99 <= 50 ms",
         f"{fmt(w.get('fdy_rps'), '.0f')} ({fmt(w.get('fdy_p50_ms'), '.1f')} / {fmt(w.get('fdy_p99_ms'), '.1f')} ms)", v(w.get("p99_ok"))),
        ("webhook ratio fdy/echo", ">= 0.5", fmt(w.get("ratio"), ".3f"), v(w.get("ratio_ok"))),
        ("  machine CPU per request fdy / echo", "-", f"{cpu(w.get('fdy_cpu_us'))} / {cpu(w.get('echo_cpu_us'))} µs", "-"),
        (f"fan-out preview ({fmt(f.get('recipients'), ',')} recipients)", "<= 1 s", f"{fmt(f.get('preview_s'), '.3f')} s", v(f.get("preview_ok"))),
        ("fan-out all jobs queued", "<= 10 s", f"{fmt(f.get('queued_s'), '.2f')} s", v(f.get("queued_ok"))),
        ("fan-out send rate: workers / raw", "-", f"{fmt(f.get('send_rate'), '.0f')} / {fmt(f.get('raw_rate'), '.0f')} msg/s", "-"),
        ("fan-out ratio workers/raw", ">= 0.7", fmt(f.get("ratio"), ".3f"), v(f.get("ratio_ok"))),
        ("fan-out exactly one per counselor", "yes", fmt(f.get("exactly_once")), v(f.get("exactly_once"))),
        ("fan-out worker RSS, peak", "<= 300 MB", f"{fmt(f.get('worker_peak_mb'), '.0f')} MB", v(f.get("rss_ok"))),
        *page_rows(pg, v),
    ]


def page_rows(pg: dict, v) -> list[tuple[str, str, str, str]]:
    def side(name):
        r = pg.get(name) or {}
        return (f"{fmt(r.get('fdy_rate'), '.0f')}/s p99 {fmt(r.get('fdy_p99_ms'), '.0f')} ms, "
                f"x{fmt(r.get('ratio'), '.2f')} bare")

    peak = max((w["peak_mb"] for w in pg.get("web_workers") or ()), default=None)
    return [
        ("pages: cold opens (OAuth), fdy", ">= 150/s, p99 <= 1 s", side("cold"), v(pg.get("cold_ok"))),
        ("pages: warm task page", ">= 0.6x, p99 <= 50 ms", side("warm"), v(pg.get("warm_ok"))),
        ("pages: student page", ">= 0.8x bare", side("student"), v(pg.get("student_ok"))),
        (f"pages: progress ({fmt(pg.get('recipients'), ',')} recipients)", "p99 <= 300 ms", side("progress"),
         v(pg.get("progress_ok"))),
        ("pages: web worker RSS, peak", "<= 300 MB", f"{fmt(peak, '.0f')} MB", v(pg.get("rss_ok"))),
    ]


def print_table(preset: str, all_results: dict[str, dict]) -> None:
    labels = list(all_results)
    per_db = {label: rows_for(res) for label, res in all_results.items()}
    metrics = [r[0] for r in next(iter(per_db.values()))]
    targets = [r[1] for r in next(iter(per_db.values()))]
    width = max(len(m) for m in metrics) + 2
    print(f"\n=== summary: preset {preset} ===")
    header = f"{'metric':{width}s} {'target':22s} " + " ".join(f"{label:44s}" for label in labels)
    print(header)
    print("-" * len(header))
    for i, metric in enumerate(metrics):
        cells = []
        for label in labels:
            _m, _t, value, ok = per_db[label][i]
            cells.append(f"{(value + ('  ' + ok if ok != '-' else '')):44s}")
        print(f"{metric:{width}s} {targets[i]:22s} " + " ".join(cells))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="small", choices=("tiny", "small", "medium", "national"))
    p.add_argument("--sqlite-url", default=None, help="default: bench/.data/bench-<preset>.db")
    p.add_argument("--mariadb-url", default=os.environ.get("BENCH_MARIADB_URL"))
    p.add_argument("--no-sqlite", action="store_true")
    p.add_argument("--no-mariadb", action="store_true")
    p.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    p.add_argument("--steps", default=",".join(STEPS), help="comma-separated subset of " + ",".join(STEPS))
    p.add_argument("--webhook-seconds", type=float, default=10.0)
    p.add_argument("--webhook-users", type=int, default=20)
    p.add_argument("--webhook-rounds", type=int, default=3, help="interleaved echo/fdy rounds sharing the seconds")
    p.add_argument("--pages-seconds", type=float, default=8.0, help="measured seconds per app and page phase")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--json", default=None, help="also write the results to this file")
    args = p.parse_args(argv)

    targets = []
    if not args.no_sqlite:
        targets.append(args.sqlite_url or default_database_url(args.preset))
    if not args.no_mariadb:
        if args.mariadb_url:
            targets.append(args.mariadb_url)
        elif mariadb_reachable():
            targets.append(DEFAULT_MARIADB_URL.format(preset=args.preset))
        else:
            print("MariaDB: 127.0.0.1:3306 does not answer and no --mariadb-url given; SQLite only.")
    steps = [s for s in args.steps.split(",") if s]
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    timeout = STEP_TIMEOUT[args.preset]
    all_results: dict[str, dict] = {}
    t_all = time.perf_counter()
    for url in targets:
        label = db_label(url)
        print(f"\n##### {label}: {redacted(url)} (preset {args.preset})", flush=True)
        if url.startswith("mysql"):
            ensure_mariadb_database(url)
            ensure_buffer_pool(url)  # each step checks again (a step may be run on its own)
        common = ["--database-url", url, "--redis-url", args.redis_url]
        results = {}
        for step in steps:
            if step == "generate":
                extra = ["--preset", args.preset, "--seed", str(args.seed), "--database-url", url]
            elif step == "pages":
                extra = [*common, "--preset", args.preset, "--seconds", str(args.pages_seconds)]
            elif step == "webhook":
                extra = [*common, "--preset", args.preset, "--seconds", str(args.webhook_seconds),
                         "--users", str(args.webhook_users), "--rounds", str(args.webhook_rounds)]
            else:
                extra = [*common, "--preset", args.preset]
            results[step] = run_step(step, extra, timeout)
            if step == "generate" and results[step] is None:
                print("  generation failed: skipping the other steps on this database", flush=True)
                break
        all_results[label] = results
    print_table(args.preset, all_results)
    print(f"\nmachine: {os.cpu_count()} CPUs; total {time.perf_counter() - t_all:.0f} s", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(all_results, ensure_ascii=False, indent=1, default=str))
    failed = [f"{label}:{step}" for label, res in all_results.items() for step in steps if res.get(step) is None]
    if failed:
        print("steps that failed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
