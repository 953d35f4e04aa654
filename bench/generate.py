"""A synthetic national data set, written through the project's bulk paths.

    python bench/generate.py --preset small                       # SQLite under bench/.data/
    python bench/generate.py --preset national --database-url 'mysql+pymysql://root@127.0.0.1:3306/fdy_bench_national?charset=utf8mb4'

The schema comes from the Alembic migration (like production); the data set is
deterministic for a given --seed. Units carry their ancestors' ids exactly as
models.units.new_unit/fill_own_id set them. Accounts, identities, followers,
cohorts and majors go in with Core insert() executemany in chunks; graduates
go through models.importer.import_graduates on a generated CSV (the path a
real import takes), or Core inserts with --graduates core.
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (DATA_DIR, PASSWORD, db_label, default_database_url, ensure_buffer_pool,  # noqa: E402
                          ensure_mariadb_database, redacted)
from bench.world import (DESTINATION_WEIGHTS, EXPECTATIONS, INTENTIONS, MAIN_COHORT, PRESETS,  # noqa: E402
                         STUDY_LEVEL_WEIGHTS, Preset, Tree, build_units, openid_for, person_name, phone_for, weighted)

CHUNK = 10_000


# ----------------------------------------------------------------------------- schema
def fresh_schema(url: str) -> None:
    """Drop everything in the target and build the schema through the migration."""
    from sqlalchemy import create_engine, text

    from models.migrate import upgrade

    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        path = Path(url[len("sqlite:///"):])
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    elif url.startswith("mysql"):
        ensure_mariadb_database(url)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
            for name in conn.execute(text("SHOW TABLES")).scalars().all():
                conn.execute(text(f"DROP TABLE `{name}`"))
            conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
        engine.dispose()
    upgrade(url)


def insert_chunks(engine, table, rows, chunk: int = CHUNK) -> int:
    """Core insert() executemany, one transaction per chunk; returns rows written."""
    written, batch = 0, []
    for row in rows:
        batch.append(row)
        if len(batch) >= chunk:
            with engine.begin() as conn:
                conn.execute(table.insert(), batch)
            written += len(batch)
            batch = []
    if batch:
        with engine.begin() as conn:
            conn.execute(table.insert(), batch)
        written += len(batch)
    return written



def write_units(engine, tree: Tree) -> int:
    from models import Major, Unit

    units = Unit.__table__
    n = 0
    with engine.begin() as conn:
        conn.execute(units.insert(), [{"id": tree.ministry_id, "kind": "ministry", "name": "教育部", "parent_id": None,
                                       "province_id": None, "school_id": None, "college_id": None}])
    n += 1
    for level in (tree.provinces, tree.schools, tree.colleges):
        n += insert_chunks(engine, units, ({k: v for k, v in row.items() if k != "stem"} for row in level))
    insert_chunks(engine, Major.__table__, (m for rows in tree.majors.values() for m in rows))
    return n


# ----------------------------------------------------------------------------- accounts
def write_accounts(engine, tree: Tree, preset: Preset, rng: random.Random, now: datetime) -> dict:
    """Staff at each level (one ministry account), counselors; their identities, followers,
    cohorts and majors. ~bound_share of counselors are bound and following; staff all are."""
    from werkzeug.security import generate_password_hash

    from models import Account, AccountCohort, Follower, Identity, account_majors
    from models.vocab import COLLEGE, COUNSELOR, MINISTRY, PROVINCE, SCHOOL

    password_hash = generate_password_hash(PASSWORD)
    accounts, identities, followers, cohorts, acc_majors = [], [], [], [], []
    counts = {"staff": 0, "counselors": 0, "bound": 0, "following": 0}

    def add(level: str, unit: dict, *, study_level=None, bound=True, following=True):
        aid = len(accounts) + 1
        phone = phone_for(aid)
        name = person_name(rng)
        openid = openid_for(aid) if bound else None
        accounts.append({
            "id": aid, "name": name, "phone": phone, "active_phone": phone, "level": level,
            "unit_id": unit["id"], "province_id": unit["province_id"], "school_id": unit["school_id"],
            "college_id": unit["college_id"], "study_level": study_level, "levels": None, "active": True,
            "identity_id": aid, "created_by_id": None, "created_at": now, "updated_at": now, "deleted_at": None,
        })
        identities.append({
            "id": aid, "username": phone, "phone": phone, "name": name, "password_hash": password_hash,
            "openid": openid, "bound_at": now if bound else None, "failed_logins": 0, "locked_until": None,
            "created_at": now,
        })
        if bound:
            counts["bound"] += 1
            counts["following"] += int(following)
            followers.append({"openid": openid, "following": following, "tags": "", "subscribed_at": now,
                              "unsubscribed_at": None if following else now, "updated_at": now})
        return aid

    ministry_unit = {"id": tree.ministry_id, "province_id": None, "school_id": None, "college_id": None}
    add(MINISTRY, ministry_unit)
    for level, units in ((PROVINCE, tree.provinces), (SCHOOL, tree.schools), (COLLEGE, tree.colleges)):
        for unit in units:
            add(level, unit)
    counts["staff"] = len(accounts)

    for i in range(preset.counselors):
        college = tree.colleges[i % len(tree.colleges)]
        roll = rng.random()
        bound = roll < preset.bound_share
        # A few bound counselors have since unfollowed: 未触达 in every fan-out.
        following = bound and rng.random() > 0.02
        aid = add(COUNSELOR, college, study_level=weighted(rng, STUDY_LEVEL_WEIGHTS), bound=bound,
                  following=following)
        for cohort in ((MAIN_COHORT - 1, MAIN_COHORT) if rng.random() < 0.1 else (MAIN_COHORT,)):
            cohorts.append({"account_id": aid, "cohort": cohort})
        majors = tree.majors[college["id"]]
        for major in rng.sample(majors, k=min(len(majors), rng.choice((1, 1, 2, 2, 3)))):
            acc_majors.append({"account_id": aid, "major_id": major["id"]})
    counts["counselors"] = preset.counselors

    # Identities first: accounts reference them.
    insert_chunks(engine, Identity.__table__, identities)
    insert_chunks(engine, Follower.__table__, followers)
    insert_chunks(engine, Account.__table__, accounts)
    insert_chunks(engine, AccountCohort.__table__, cohorts)
    insert_chunks(engine, account_majors, acc_majors)
    return counts


# ----------------------------------------------------------------------------- graduates
GRADUATE_COLUMNS = ("学号", "姓名", "省份", "学校", "院系", "专业", "专业方向", "学历层次", "届别", "毕业去向",
                    "就业意愿", "求职期望", "关注绑定")


def graduate_rows(tree: Tree, preset: Preset, rng: random.Random, count: int | None = None, start: int = 0,
                  prefix: str = "G"):
    """(csv row, core row) for each synthetic graduate, deterministic for rng."""
    by_id = {u["id"]: u for u in tree.provinces + tree.schools}
    total = preset.graduates if count is None else count
    for g in range(start, start + total):
        college = tree.colleges[g % len(tree.colleges)]
        major = rng.choice(tree.majors[college["id"]])
        school = by_id[college["school_id"]]
        province = by_id[college["province_id"]]
        level = weighted(rng, STUDY_LEVEL_WEIGHTS)
        cohort = MAIN_COHORT if rng.random() < 0.85 else MAIN_COHORT - 1
        destination = weighted(rng, DESTINATION_WEIGHTS)
        name = person_name(rng)
        intention = rng.choice(INTENTIONS)
        expectation = rng.choice(EXPECTATIONS)
        follows = rng.random() < 0.4
        student_no = f"{prefix}{cohort}{g:010d}"
        csv_row = (student_no, name, province["name"], school["name"], college["name"], major["name"],
                   major["direction"], level, cohort, destination, intention, expectation, "是" if follows else "否")
        core_row = {"student_no": student_no, "name": name, "province_id": province["id"],
                    "school_id": school["id"], "college_id": college["id"], "major_id": major["id"],
                    "study_level": level, "cohort": cohort, "destination": destination, "intention": intention,
                    "expectation": expectation, "follows_bound": follows}
        yield csv_row, core_row


def write_graduate_csv(path: Path, rows) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(GRADUATE_COLUMNS)
        for csv_row, _core in rows:
            writer.writerow(csv_row)
            n += 1
    return n


def importer_available() -> bool:
    try:
        from models.importer import import_graduates  # noqa: F401
    except ImportError:
        return False
    return True


def import_csv(database_url: str, path: Path, redis_url: str | None = None, app=None):
    """models.importer.import_graduates on `path` inside an app context; returns its report."""
    from bench.common import DEFAULT_REDIS_URL, make_app
    from models import db
    from models.importer import import_graduates

    own = app is None
    app = app or make_app(database_url, redis_url or DEFAULT_REDIS_URL)
    try:
        with app.app_context():
            return import_graduates(db.session, str(path))
    finally:
        if own:
            app.extensions["fdy.db"].engine.dispose()


def report_summary(report) -> str:
    """The importer's report in one line, whatever shape it has."""
    if report is None:
        return "None"
    for attrs in (("imported", "updated", "errors"), ("created", "updated", "errors"), ("ok", "bad")):
        if all(hasattr(report, a) for a in attrs):
            parts = []
            for a in attrs:
                v = getattr(report, a)
                parts.append(f"{a}={len(v) if isinstance(v, (list, tuple)) else v}")
            return " ".join(parts)
    if isinstance(report, dict):
        return " ".join(f"{k}={len(v) if isinstance(v, (list, tuple)) else v}" for k, v in report.items())
    return repr(report)[:200]


def write_graduates(engine, database_url: str, tree: Tree, preset: Preset, rng: random.Random, via: str,
                    redis_url: str | None = None, work_dir: Path | None = None, app=None) -> tuple[str, float]:
    from models import Graduate

    rows = graduate_rows(tree, preset, rng)
    if via == "importer":
        path = (work_dir or DATA_DIR) / f"graduates-{preset.graduates}.csv"
        t0 = time.perf_counter()
        write_graduate_csv(path, rows)
        t_csv = time.perf_counter() - t0
        print(f"  graduates CSV {path.name}: {preset.graduates} rows in {t_csv:.1f} s", flush=True)
        t0 = time.perf_counter()
        report = import_csv(database_url, path, redis_url, app)
        elapsed = time.perf_counter() - t0
        print(f"  import_graduates: {report_summary(report)}", flush=True)
        return "models.importer.import_graduates", elapsed
    t0 = time.perf_counter()
    insert_chunks(engine, Graduate.__table__, (core for _csv, core in rows))
    return "core insert (importer not used)", time.perf_counter() - t0


# ----------------------------------------------------------------------------- main
def table_counts(engine) -> dict:
    from sqlalchemy import text

    out = {}
    with engine.connect() as conn:
        for table in ("units", "majors", "accounts", "identities", "followers", "account_cohorts",
                      "account_majors", "graduates"):
            out[table] = conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
    return out


def generate(database_url: str, preset_name: str, seed: int = 2026, graduates: str = "auto",
             quiet: bool = False, fresh: bool = True, redis_url: str | None = None,
             work_dir: Path | None = None, app=None) -> dict:
    """Write the preset into `database_url`. fresh=False writes into an existing, empty schema;
    `app` (optional) is the Flask app whose context the importer runs in."""
    from models.base import make_engine

    preset = PRESETS[preset_name]
    say = (lambda *a, **k: None) if quiet else (lambda *a, **k: print(*a, **k, flush=True))  # noqa: E731
    rng = random.Random(seed)
    now = datetime(2026, 3, 1, 8, 0, 0)
    via = graduates
    if via == "auto":
        # The national million goes in by Core inserts while the importer writes ~1-2k rows/s at that
        # spread (docs/PERFORMANCE.md); queries.py measures the importer on 100k of them instead.
        via = "importer" if importer_available() and preset_name != "national" else "core"
    phases = {}
    t_all = time.perf_counter()

    t0 = time.perf_counter()
    if fresh:
        fresh_schema(database_url)
    phases["schema"] = time.perf_counter() - t0
    engine = make_engine(database_url)
    try:
        t0 = time.perf_counter()
        tree = build_units(preset)
        write_units(engine, tree)
        phases["units+majors"] = time.perf_counter() - t0
        say(f"  units: {len(tree.provinces)} provinces, {len(tree.schools)} schools, {len(tree.colleges)} colleges "
            f"in {phases['units+majors']:.1f} s")

        t0 = time.perf_counter()
        acc = write_accounts(engine, tree, preset, rng, now)
        phases["accounts"] = time.perf_counter() - t0
        say(f"  accounts: {acc['staff']} staff, {acc['counselors']} counselors, {acc['bound']} bound, "
            f"{acc['following']} following in {phases['accounts']:.1f} s")

        path, t_grad = write_graduates(engine, database_url, tree, preset, rng, via, redis_url, work_dir, app)
        phases["graduates"] = t_grad
        rate = preset.graduates / t_grad if t_grad else float("inf")
        say(f"  graduates: {preset.graduates} via {path} in {t_grad:.1f} s ({rate:,.0f} rows/s)")

        if engine.dialect.name == "sqlite":
            with engine.begin() as conn:
                from sqlalchemy import text

                conn.execute(text("ANALYZE"))
        else:
            with engine.begin() as conn:
                from sqlalchemy import text

                for table in ("units", "accounts", "identities", "graduates", "account_cohorts", "account_majors"):
                    conn.execute(text(f"ANALYZE TABLE {table}"))
        counts = table_counts(engine)
    finally:
        engine.dispose()
    elapsed = time.perf_counter() - t_all
    result = {"preset": preset_name, "database": db_label(database_url), "seed": seed, "graduates_via": path,
              "counts": counts, "phases_s": {k: round(v, 2) for k, v in phases.items()}, "elapsed_s": round(elapsed, 2),
              "graduate_rows_per_s": round(rate)}
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="small")
    p.add_argument("--database-url", default=None, help="SQLAlchemy URL (default: SQLite file under bench/.data/)")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--graduates", choices=("auto", "importer", "core"), default="auto",
                   help="auto: models.importer when it exists (Core inserts for national), else Core inserts")
    args = p.parse_args(argv)
    url = args.database_url or os.environ.get("BENCH_DATABASE_URL") or default_database_url(args.preset)
    print(f"generate --preset {args.preset} --seed {args.seed} into {redacted(url)}", flush=True)
    ensure_buffer_pool(url)
    result = generate(url, args.preset, args.seed, args.graduates)
    print("counts: " + ", ".join(f"{k}={v:,}" for k, v in result["counts"].items()))
    print(f"elapsed: {result['elapsed_s']:.1f} s  (" + ", ".join(f"{k} {v:.1f} s" for k, v in result["phases_s"].items()) + ")")
    from bench.common import print_json_line

    print_json_line("generate", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
