"""Memory of `导出 N` at national size: a task with 150,000 recipients written to .xlsx.

Builds its own data (a throwaway SQLite file under bench/.data/, or --database-url), then runs the
export in a fresh child process and reports that process's peak RSS above its RSS just before the
export, the time and the file size; with --tracemalloc also the peak of Python allocations (which
slows the run several times over: its time is not the export's). `--writer normal` runs the same
rows through an ordinary (not write-only) openpyxl workbook, for comparison.

    .venv/bin/python bench/export_memory.py [--recipients 150000] [--writer stream|normal|both] [--tracemalloc]
"""
from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime

from common import DATA_DIR, DEFAULT_REDIS_URL, PYTHON, make_app  # noqa: E402 - puts the repo on sys.path

COLLEGES = 600


def _rss_kib() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def build(database_url: str, recipients: int) -> tuple[int, int]:
    """Units, counselors and one task to all of them, by Core inserts. Returns (task id, ministry id)."""
    from sqlalchemy import create_engine, insert

    from models import Account, Task, TaskRecipient, Unit
    from models.migrate import upgrade

    if database_url.startswith("sqlite:///"):
        path = database_url[len("sqlite:///"):]
        if os.path.exists(path):
            os.remove(path)
    upgrade(database_url)
    engine = create_engine(database_url)
    rng = random.Random(2026)
    with engine.begin() as conn:
        conn.execute(insert(Unit), [{"id": 1, "kind": "ministry", "name": "教育部"},
                                    {"id": 2, "kind": "province", "name": "江苏省", "parent_id": 1, "province_id": 2}])
        units = []
        for s in range(20):
            sid = 10 + s
            units.append({"id": sid, "kind": "school", "name": f"第{s}大学", "parent_id": 2, "province_id": 2,
                          "school_id": sid})
        colleges = []
        for c in range(COLLEGES):
            cid = 1000 + c
            sid = 10 + c % 20
            colleges.append((cid, sid))
            units.append({"id": cid, "kind": "college", "name": f"第{c}学院", "parent_id": sid, "province_id": 2,
                          "school_id": sid, "college_id": cid})
        conn.execute(insert(Unit), units)
        conn.execute(insert(Account), [{"id": 1, "name": "部里", "phone": "13000000000", "active_phone": "13000000000",
                                        "level": "ministry", "unit_id": 1, "active": True}])
        conn.execute(insert(Task), [{"id": 1, "title": "全国任务", "type": "其他", "content": "内容", "cohort": 2026,
                                     "issuer_id": 1, "issuer_unit_id": 1, "status": "active",
                                     "recipient_count": recipients}])
        for start in range(0, recipients, 5000):
            accounts, recs = [], []
            for i in range(start, min(start + 5000, recipients)):
                cid, sid = colleges[i % COLLEGES]
                aid = 10 + i
                phone = f"15{i:09d}"
                accounts.append({"id": aid, "name": f"辅导员{i}", "phone": phone, "active_phone": phone,
                                 "level": "counselor", "unit_id": cid, "province_id": 2, "school_id": sid,
                                 "college_id": cid, "study_level": "本科", "active": True})
                done = rng.random() < 0.4
                recs.append({"task_id": 1, "account_id": aid, "province_id": 2, "school_id": sid, "college_id": cid,
                             "study_level": "本科", "notify_state": "sent" if rng.random() < 0.9 else "unreachable",
                             "delivery": rng.choice(["delivered", "delivered", "delivered", "failed", ""]),
                             "completed_at": None if not done else datetime(2026, 11, 20)})
            conn.execute(insert(Account), accounts)
            conn.execute(insert(TaskRecipient), recs)
    engine.dispose()
    return 1, 1


def child(database_url: str, redis_url: str, writer: str, trace: bool) -> dict:
    """Runs in a fresh process: the export alone, measured."""
    import tracemalloc

    from models import db
    from models.accounts import Account
    from models.export import write_workbook
    from models.tasks import Task

    app = make_app(database_url, redis_url)
    with app.app_context():
        staff, task = db.session.get(Account, 1), db.session.get(Task, 1)
        _ = staff.unit, task.issuer  # loaded before the baseline
        if writer == "normal":
            import openpyxl.workbook

            real = openpyxl.workbook.Workbook
            import models.export as export_mod

            export_mod.Workbook = lambda write_only=False: real(write_only=False)  # noqa: E731
        rss_before = _rss_kib()
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        with tempfile.TemporaryFile() as out:
            rows = write_workbook(db.session, staff, task, out)
            size = out.tell()
        seconds = time.perf_counter() - started
        traced_peak = tracemalloc.get_traced_memory()[1] if trace else None
        tracemalloc.stop()
        peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"writer": writer, "rows": rows, "seconds": round(seconds, 1), "file_mib": round(size / 2**20, 1),
            "rss_before_mib": round(rss_before / 1024, 1),
            "peak_rss_growth_mib": round((max(peak_after, peak_before) - rss_before) / 1024, 1),
            "python_alloc_peak_mib": round(traced_peak / 2**20, 1) if trace else None}


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipients", type=int, default=150_000)
    p.add_argument("--writer", choices=["stream", "normal", "both"], default="stream")
    p.add_argument("--database-url")
    p.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    p.add_argument("--tracemalloc", action="store_true", help="also the peak of Python allocations (slow)")
    p.add_argument("--reuse", action="store_true", help="keep the data of the last run (same --recipients)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    url = args.database_url or f"sqlite:///{DATA_DIR / 'bench-export.db'}"
    if args.child:
        print(json.dumps(child(url, args.redis_url, args.child, args.tracemalloc)))
        return 0
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    if not args.reuse:
        started = time.perf_counter()
        build(url, args.recipients)
        print(f"built {args.recipients} recipients in {time.perf_counter() - started:.1f} s ({url.split('@')[-1]})")
    writers = ["stream", "normal"] if args.writer == "both" else [args.writer]
    for writer in writers:
        out = subprocess.run([PYTHON, __file__, "--child", writer, "--database-url", url, "--redis-url",
                              args.redis_url, "--recipients", str(args.recipients)]
                             + (["--tracemalloc"] if args.tracemalloc else []),
                             capture_output=True, text=True, timeout=1800, check=False)
        if out.returncode != 0:
            print(out.stderr[-2000:], file=sys.stderr)
            return 1
        print("export_memory " + out.stdout.strip().splitlines()[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
