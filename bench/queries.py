"""Query latency and import rate, calling the model/handler functions in an app context.

    python bench/queries.py --preset small [--database-url URL] [--iterations 300]

- `进展`: resolve the sender (phone-A rule) and build the reply
  (handlers.stats.progress_text -> models.statistics.employment), each
  iteration in a fresh app context (fresh session, as a request has); many
  counselors across the country. Target p95 <= 20 ms over 1M graduates.
- `进度 N`: the ministry account's progress reply for the largest task
  (150k recipients at national size). Target p95 <= 300 ms.
- import: models.importer.import_graduates on a generated CSV of new
  graduates (rows/s for creating), then the same file again (updating); the
  rows are deleted afterwards. Target >= 20,000 rows/s.
"""
from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (step_parser, DATA_DIR, db_label, default_database_url, make_app,  # noqa: E402
                          print_json_line, redacted, summary_ms, verdict)

STATS_P95_MS = 20.0
PROGRESS_P95_MS = 300.0
IMPORT_ROWS_PER_S = 20_000
MAX_SECONDS_PER_QUERY = 60.0


def timed_loop(fn, args_list, iterations: int, max_seconds: float = MAX_SECONDS_PER_QUERY) -> tuple[list[float], object]:
    samples, last = [], None
    deadline = time.perf_counter() + max_seconds
    for i in range(iterations):
        t0 = time.perf_counter()
        last = fn(*args_list[i % len(args_list)])
        samples.append(time.perf_counter() - t0)
        if time.perf_counter() > deadline:
            break
    return samples, last


# ----------------------------------------------------------------------------- 进展
def stats_reply_fn(app):
    """One `进展` as the webhook computes it: resolve + reply text, in a fresh app context."""
    from models import db
    from models.resolution import resolve

    try:
        from handlers.stats import progress_text
    except ImportError:
        progress_text = None

    def run(openid):
        with app.app_context():
            sender = resolve(db.session, openid)
            if progress_text is not None:
                return progress_text(sender)
            from models.statistics import employment

            figures = employment(db.session, sender.account)
            return f"毕业生 {figures.graduates} 人，已落实 {figures.placed} 人，落实率 {figures.rate}%"

    return run


# ----------------------------------------------------------------------------- 进度 N
def progress_reply_fn(app):
    """One `进度 N` reply for a staff sender, through whatever the staff handler exposes."""
    from models import db
    from models.resolution import resolve

    try:
        from handlers.staff import progress_text, visible_task
    except ImportError:
        return None

    def run(openid, task_id):
        # What the `进度 N` handler does: the visibility check, then the figures and the text.
        with app.app_context():
            sender = resolve(db.session, openid)
            task = visible_task(sender, task_id)
            return progress_text(sender, task)

    return run


# ----------------------------------------------------------------------------- import
def import_rate(database_url: str, redis_url: str, preset_name: str, rows: int, seed: int = 7) -> dict:
    from sqlalchemy import delete

    from bench import generate
    from models import Graduate
    from models.base import make_engine

    if not generate.importer_available():
        return {"skipped": "models.importer not available"}
    tree = generate.build_units(generate.PRESETS[preset_name])
    path = DATA_DIR / f"import-{preset_name}-{rows}.csv"
    generate.write_graduate_csv(path, generate.graduate_rows(tree, generate.PRESETS[preset_name],
                                                             random.Random(seed), count=rows, prefix="I"))
    out = {"rows": rows}
    try:
        for phase in ("create", "update"):
            t0 = time.perf_counter()
            report = generate.import_csv(database_url, path, redis_url)
            elapsed = time.perf_counter() - t0
            out[f"{phase}_s"] = round(elapsed, 2)
            out[f"{phase}_rows_per_s"] = round(rows / elapsed)
            out[f"{phase}_report"] = generate.report_summary(report)
    finally:
        engine = make_engine(database_url)
        with engine.begin() as conn:
            conn.execute(delete(Graduate.__table__).where(Graduate.student_no.like("I%")))
        engine.dispose()
    return out


# ----------------------------------------------------------------------------- main
def run(database_url: str, redis_url: str, preset_name: str, iterations: int = 300, import_rows: int | None = None) -> dict:
    from bench import scenario
    from models import db
    from models.vocab import MINISTRY

    app = make_app(database_url, redis_url)
    out: dict = {"database": db_label(database_url), "preset": preset_name}
    try:
        with app.app_context():
            session = db.session
            from sqlalchemy import func, select

            from models import Graduate

            out["graduates"] = session.scalar(select(func.count()).select_from(Graduate))
            counselors = scenario.bound_counselors(session, 200)
            task = scenario.largest_task(session)
            task_source = "existing"
            if task is None:
                issuer = scenario.ministry_account(session)
                task, task_source = scenario.create_task(session, issuer)
            scenario.mark_some_done(session, task[0])
            ministry = scenario.staff_sender(session, MINISTRY)

        stats = stats_reply_fn(app)
        stats(counselors[0].openid)  # warm the caches of the first call
        samples, last = timed_loop(stats, [(c.openid,) for c in counselors], iterations)
        s = summary_ms(samples)
        out["stats"] = {**{k: round(v, 2) for k, v in s.items()}, "ok": s["p95_ms"] <= STATS_P95_MS,
                        "reply_has_marker": "毕业生" in str(last)}
        print(f"  进展        n={s['n']:4d}  p50 {s['p50_ms']:7.2f} ms  p95 {s['p95_ms']:7.2f} ms  "
              f"(target p95 <= {STATS_P95_MS:.0f} ms: {verdict(out['stats']['ok'])})", flush=True)

        progress = progress_reply_fn(app)
        out["progress"] = {"task_id": task[0], "recipients": task[1], "task_source": task_source}
        if progress is None:
            out["progress"]["skipped"] = "handlers.staff.progress_text not there yet"
            print("  进度 N      skipped: no 进度 function found yet", flush=True)
        else:
            progress(ministry.openid, task[0])
            samples, last = timed_loop(progress, [(ministry.openid, task[0])], max(20, iterations // 10))
            s = summary_ms(samples)
            out["progress"].update({k: round(v, 2) for k, v in s.items()})
            out["progress"]["ok"] = s["p95_ms"] <= PROGRESS_P95_MS
            out["progress"]["reply_has_marker"] = "已完成" in str(last)
            print(f"  进度 {task[0]:<6d} n={s['n']:4d}  p50 {s['p50_ms']:7.2f} ms  p95 {s['p95_ms']:7.2f} ms  "
                  f"({task[1]:,} recipients; target p95 <= {PROGRESS_P95_MS:.0f} ms: {verdict(out['progress']['ok'])})",
                  flush=True)
    finally:
        app.extensions["fdy.db"].engine.dispose()

    from bench.world import PRESETS

    rows = import_rows or min(PRESETS[preset_name].graduates, 100_000)
    imp = import_rate(database_url, redis_url, preset_name, rows)
    if "skipped" not in imp:
        imp["ok"] = imp["create_rows_per_s"] >= IMPORT_ROWS_PER_S
        print(f"  import      {rows:,} rows: create {imp['create_rows_per_s']:,} rows/s, update "
              f"{imp['update_rows_per_s']:,} rows/s (target >= {IMPORT_ROWS_PER_S:,}: {verdict(imp['ok'])})", flush=True)
    else:
        print(f"  import      skipped: {imp['skipped']}", flush=True)
    out["import"] = imp
    return out


def main(argv=None) -> int:
    p = step_parser(__doc__, "the generated preset (default SQLite file and import CSV)")
    p.add_argument("--iterations", type=int, default=300)
    p.add_argument("--import-rows", type=int, default=None, help="rows of the import test (default min(graduates, 100k))")
    args = p.parse_args(argv)
    url = args.database_url or os.environ.get("BENCH_DATABASE_URL") or default_database_url(args.preset)
    print(f"queries: {redacted(url)}", flush=True)
    out = run(url, args.redis_url, args.preset, args.iterations, args.import_rows)
    print_json_line("queries", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
