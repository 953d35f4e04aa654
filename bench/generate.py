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
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (DATA_DIR, PASSWORD, db_label, default_database_url, ensure_buffer_pool,  # noqa: E402
                          ensure_mariadb_database, redacted)

PROVINCE_NAMES = (
    "北京市", "天津市", "河北省", "山西省", "内蒙古自治区", "辽宁省", "吉林省", "黑龙江省", "上海市",
    "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省", "湖南省", "广东省",
    "广西壮族自治区", "海南省", "重庆市", "四川省", "贵州省", "云南省", "西藏自治区", "陕西省", "甘肃省",
    "青海省", "宁夏回族自治区", "新疆维吾尔自治区", "台湾省", "香港特别行政区", "澳门特别行政区",
)
SCHOOL_KINDS = ("大学", "理工大学", "师范大学", "财经大学", "医科大学", "职业技术学院", "工业大学", "农业大学")
COLLEGE_STEMS = ("计算机", "软件", "数学", "物理", "化学", "经济管理", "外国语", "文", "法", "机械工程",
                 "电气工程", "土木工程", "医", "艺术", "新闻传播", "生命科学", "材料", "环境", "马克思主义", "体育")
MAJOR_SUFFIXES = ("学", "工程", "技术", "管理", "教育", "应用", "科学")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建华文博宇浩然子涵欣怡梓轩一诺思远晨曦嘉怡雨桐"
STUDY_LEVEL_WEIGHTS = (("专科", 20), ("本科", 60), ("硕士", 15), ("博士", 5))
DESTINATION_WEIGHTS = (("协议就业", 25), ("合同就业", 15), ("灵活就业", 12), ("自主创业", 2), ("升学", 15),
                       ("出国出境", 3), ("应征入伍", 1), ("基层项目", 2), ("待就业", 22), ("暂不就业", 3))
INTENTIONS = ("求职", "升学", "考公考编", "创业", "出国", "暂无")
EXPECTATIONS = ("北京 互联网", "上海 金融", "广州 制造业", "本地 教育", "成都 医疗", "杭州 电商", "不限")

MAIN_COHORT = 2026
CHUNK = 10_000


@dataclass(frozen=True)
class Preset:
    provinces: int
    schools: int
    colleges: int
    majors_per_college: int
    counselors: int
    graduates: int
    bound_share: float = 0.9


PRESETS = {
    "tiny": Preset(1, 2, 4, 3, 20, 200),
    "small": Preset(2, 20, 200, 5, 1_000, 20_000),
    "medium": Preset(10, 300, 3_000, 5, 15_000, 100_000),
    "national": Preset(34, 3_000, 30_000, 5, 150_000, 1_000_000),
}


def openid_for(account_id: int) -> str:
    """The synthetic openid of account `account_id` (28 characters, like WeChat's)."""
    return f"obench{account_id:022d}"


def phone_for(account_id: int) -> str:
    # 11 digits, mainland mobile prefix, unique per account.
    return f"13{account_id:09d}"


def weighted(rng: random.Random, pairs) -> str:
    names = [p[0] for p in pairs]
    weights = [p[1] for p in pairs]
    return rng.choices(names, weights)[0]


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


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


# ----------------------------------------------------------------------------- units
@dataclass
class Tree:
    ministry_id: int
    provinces: list[dict]
    schools: list[dict]
    colleges: list[dict]
    majors: dict[int, list[dict]]  # college id -> its majors


def build_units(preset: Preset) -> Tree:
    """Unit rows with explicit ids and the ancestry models.units gives them."""
    from models.vocab import COLLEGE, MINISTRY, PROVINCE, SCHOOL

    next_id = iter(range(1, 10**9))
    ministry = {"id": next(next_id), "kind": MINISTRY, "name": "教育部", "parent_id": None,
                "province_id": None, "school_id": None, "college_id": None}
    provinces = []
    for p in range(preset.provinces):
        uid = next(next_id)
        name = PROVINCE_NAMES[p] if p < len(PROVINCE_NAMES) else f"第{p + 1}省"
        provinces.append({"id": uid, "kind": PROVINCE, "name": name, "parent_id": ministry["id"],
                          "province_id": uid, "school_id": None, "college_id": None})
    schools = []
    per_province: dict[int, int] = {}
    for s in range(preset.schools):
        prov = provinces[s % len(provinces)]
        k = per_province[prov["id"]] = per_province.get(prov["id"], 0) + 1
        short = prov["name"].replace("省", "").replace("市", "").replace("自治区", "").replace("特别行政区", "")[:4]
        name = f"{short}第{k}{SCHOOL_KINDS[k % len(SCHOOL_KINDS)]}"
        uid = next(next_id)
        schools.append({"id": uid, "kind": SCHOOL, "name": name, "parent_id": prov["id"],
                        "province_id": prov["id"], "school_id": uid, "college_id": None})
    colleges = []
    per_school: dict[int, int] = {}
    for c in range(preset.colleges):
        school = schools[c % len(schools)]
        k = per_school[school["id"]] = per_school.get(school["id"], 0) + 1
        stem = COLLEGE_STEMS[(k - 1) % len(COLLEGE_STEMS)]
        name = f"{stem}学院" if k <= len(COLLEGE_STEMS) else f"{stem}第{k}学院"
        uid = next(next_id)
        colleges.append({"id": uid, "kind": COLLEGE, "name": name, "parent_id": school["id"],
                         "province_id": school["province_id"], "school_id": school["id"], "college_id": uid,
                         "stem": stem})
    majors: dict[int, list[dict]] = {}
    mid = 0
    for college in colleges:
        rows = []
        for k in range(preset.majors_per_college):
            mid += 1
            suffix = MAJOR_SUFFIXES[k % len(MAJOR_SUFFIXES)]
            name = f"{college['stem']}{suffix}" + (f"{k // len(MAJOR_SUFFIXES) + 1}" if k >= len(MAJOR_SUFFIXES) else "")
            # Some majors have a 专业方向, as the employment data does.
            direction = "应用方向" if k == 4 else ""
            rows.append({"id": mid, "college_id": college["id"], "name": name, "direction": direction})
        majors[college["id"]] = rows
    return Tree(ministry["id"], provinces, schools, colleges, majors)


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
