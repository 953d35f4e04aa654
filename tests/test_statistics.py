"""进展 / 毕业生 against an imported CSV: every figure is recomputed here from the
CSV rows with plain Python and compared with what the counselor is told."""
from __future__ import annotations

import csv
import random
import re
from collections import Counter

import pytest
from sqlalchemy import select, text

from models import Major, Unit
from models.statistics import destination_counts_query, employment, graduate_summary, scope_of
from models.vocab import COLLEGE, SCHOOL
from tests.wechat_client import new_openid

HEADER = ["学号", "姓名", "省份", "学校", "院系", "专业", "专业方向", "学历层次", "届别",
          "毕业去向", "就业意愿", "求职期望", "关注绑定"]
DESTS = ["协议就业", "合同就业", "灵活就业", "自主创业", "升学", "出国出境", "应征入伍", "基层项目", "待就业", "暂不就业"]
INTENTIONS = ["求职", "升学", "考公", "出国", "暂无", ""]
# The shapes 求职期望 takes in exports: "cities/industries", labelled, "city · post · salary", "city industry".
EXPECTATIONS = ["北京、上海/互联网", "城市：深圳；行业：金融、教育", "广州/制造业", "北京/金融", "", "体制内",
                "杭州/互联网、电商", "南京 · 软件开发 · 8k以上", "上海 金融", "不限"]
SCHOOL_NAME, OTHER_SCHOOL = "示范大学", "另一大学"
CS, LANG = "计算机学院", "外国语学院"
MAJORS = [("软件工程", ""), ("网络工程", ""), ("计算机科学与技术", "人工智能")]


def make_rows(seed: int = 6) -> list[dict]:
    """A believable export: two schools, same-named colleges and majors, three cohorts, two levels."""
    rng = random.Random(seed)
    rows = []
    places = ([(SCHOOL_NAME, CS, m, d) for m, d in MAJORS] + [(SCHOOL_NAME, LANG, "英语", "")]
              + [(OTHER_SCHOOL, CS, "软件工程", "")])
    for n in range(420):
        school, college, major, direction = rng.choice(places)
        rows.append({
            "学号": f"2026{n:06d}", "姓名": f"{rng.choice('张王李赵刘陈杨黄')}{rng.choice('伟芳娜敏静丽强磊军洋')}{n}",
            "省份": "示范省", "学校": school, "院系": college, "专业": major, "专业方向": direction,
            "学历层次": rng.choice(["本科", "本科", "本科", "硕士"]), "届别": str(rng.choice([2025, 2026, 2026, 2027])),
            "毕业去向": rng.choice(DESTS), "就业意愿": rng.choice(INTENTIONS),
            "求职期望": rng.choice(EXPECTATIONS), "关注绑定": rng.choice(["是", "否"]),
        })
    return rows


def write_csv(path, rows: list[dict]) -> str:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def import_csv(db, path: str) -> None:
    from models.importer import import_graduates

    report = import_graduates(db, path)
    assert not report.errors, report.errors
    db.commit()


def college_named(db, school: str, college: str) -> Unit:
    school_unit = db.scalar(select(Unit).where(Unit.kind == SCHOOL, Unit.name == school))
    return db.scalar(select(Unit).where(Unit.kind == COLLEGE, Unit.name == college,
                                        Unit.parent_id == school_unit.id))


def majors_named(db, college: Unit, names: list[tuple[str, str]]) -> list[Major]:
    return [db.scalar(select(Major).where(Major.college_id == college.id, Major.name == name,
                                          Major.direction == direction)) for name, direction in names]


def in_scope(rows, school, college, level, majors, cohorts) -> list[dict]:
    return [r for r in rows if r["学校"] == school and r["院系"] == college and r["学历层次"] == level
            and (r["专业"], r["专业方向"]) in majors and int(r["届别"]) in cohorts]


def expected_rate(placed: int, total: int) -> str:
    """One decimal, half up, with integers only (independent of the code under test)."""
    if total == 0:
        return "0.0"
    tenths = (placed * 2000 + total) // (2 * total)
    return f"{tenths // 10}.{tenths % 10}"


def expected_figures(rows):
    counts = Counter(r["毕业去向"] for r in rows)
    placed = sum(n for dest, n in counts.items() if dest not in ("待就业", "暂不就业"))
    return len(rows), placed, expected_rate(placed, len(rows)), counts


def parse_progress(reply: str):
    total = int(re.search(r"毕业生 (\d+) 人", reply).group(1))
    placed = int(re.search(r"已落实 (\d+) 人", reply).group(1))
    rate = re.search(r"落实率 ([\d.]+)%", reply).group(1)
    dests = {d: int(m.group(1)) for d in DESTS if (m := re.search(rf"^{d} (\d+) 人$", reply, re.M))}
    return total, placed, rate, dests


COUNSELOR_CASES = [
    # (level, majors, cohorts): one major/one cohort, several of each, another level.
    ("本科", [("软件工程", "")], [2026]),
    ("本科", [("软件工程", ""), ("计算机科学与技术", "人工智能")], [2025, 2026]),
    ("硕士", [("网络工程", ""), ("软件工程", ""), ("计算机科学与技术", "人工智能")], [2026, 2027]),
]


def setup_counselors(db, factory, tmp_path):
    rows = make_rows()
    import_csv(db, write_csv(tmp_path / "grads.csv", rows))
    college = college_named(db, SCHOOL_NAME, CS)
    made = []
    for level, majors, cohorts in COUNSELOR_CASES:
        openid = new_openid()
        account = factory.counselor(college, majors=majors_named(db, college, majors), cohorts=cohorts,
                                    study_level=level, openid=openid)
        made.append((openid, account, in_scope(rows, SCHOOL_NAME, CS, level, majors, cohorts)))
    factory.commit()
    return rows, made


def test_progress_figures_match_imported_csv(db, factory, wechat, tmp_path, live_server):
    _, made = setup_counselors(db, factory, tmp_path)
    for openid, account, mine in made:
        total, placed, rate, counts = expected_figures(mine)
        assert total > 10  # the case is meaningful
        reply = wechat.ask(openid, "进展")
        assert f"毕业生 {total} 人" in reply and f"已落实 {placed} 人" in reply and f"落实率 {rate}%" in reply
        got_total, got_placed, got_rate, got_dests = parse_progress(reply)
        assert (got_total, got_placed, got_rate) == (total, placed, rate)
        assert got_dests == {d: counts.get(d, 0) for d in DESTS}
        assert f"{live_server}/stats" in reply
        assert len(reply) < 600
        # The model agrees too, destination by destination, in the vocabulary's order.
        figures = employment(db, account)
        assert list(figures.by_destination) == DESTS
        assert figures.by_destination == {d: counts.get(d, 0) for d in DESTS}
        # The menu button answers the same.
        assert wechat.event(openid, "CLICK", key="STATS").content == reply


def test_rate_rounds_half_up_to_one_decimal(db, factory, wechat, tmp_path):
    # 1 placed of 16 = 6.25% exactly: a tie, 6.3 half up (6.2 half to even).
    rows = []
    for i, dest in enumerate(["协议就业"] + ["待就业"] * 15):
        rows.append(dict(zip(HEADER, [f"R{i:05d}", f"学生{i}", "示范省", SCHOOL_NAME, CS, "软件工程", "", "本科",
                                      "2026", dest, "", "", "否"])))
    import_csv(db, write_csv(tmp_path / "r.csv", rows))
    college = college_named(db, SCHOOL_NAME, CS)
    openid = new_openid()
    factory.counselor(college, majors=majors_named(db, college, [("软件工程", "")]), cohorts=[2026],
                      study_level="本科", openid=openid)
    factory.commit()
    assert "落实率 6.3%" in wechat.ask(openid, "进展")


@pytest.mark.parametrize("placed, total, shown", [
    (1, 16, "6.3"),     # 6.25: a tie, rounded up
    (5, 16, "31.3"),    # 31.25: a tie whose half-even neighbour is below
    (3, 16, "18.8"),    # 18.75: a tie that both ways round up
    (1, 8, "12.5"),     # exact, nothing to round
    (1, 6, "16.7"),
    (2, 3, "66.7"),
    (1, 3, "33.3"),
    (0, 5, "0.0"),
    (5, 5, "100.0"),
    (0, 0, "0.0"),      # nobody: no division
])
def test_rate_text_against_literals(placed, total, shown):
    from models.statistics import rate_text

    assert rate_text(placed, total) == shown
    assert expected_rate(placed, total) == shown  # the tests' own helper agrees with the literals


def test_graduate_summary_matches_imported_csv(db, factory, wechat, tmp_path):
    from models.statistics import parse_expectation

    _, made = setup_counselors(db, factory, tmp_path)
    for openid, account, mine in made:
        bound = sum(r["关注绑定"] == "是" for r in mine)
        intentions = Counter(r["就业意愿"] or "未填写" for r in mine)
        reply = wechat.ask(openid, "毕业生")
        assert f"共 {len(mine)} 人" in reply
        assert f"已关注绑定 {bound} 人，未关注绑定 {len(mine) - bound} 人" in reply
        top_intention, n = sorted(intentions.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        assert f"就业意愿：{top_intention} {n}" in reply
        # Cities and industries, counted here from the raw text of the two shapes in the CSV.
        cities, industries, others = Counter(), Counter(), Counter()
        for r in mine:
            value = r["求职期望"]
            if "/" in value:
                c, i = value.split("/")
            elif value.startswith("城市："):
                c, i = value[3:].split("；行业：")
            elif " " in value:
                c, i = value.replace(" · ", " ").split(" ")[:2]
            else:
                if value:
                    others[value] += 1
                continue
            cities.update(set(c.split("、")))
            industries.update(set(i.split("、")))
        for title, counter in (("期望城市", cities), ("期望行业/岗位", industries)):
            best = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
            assert f"{title}：" + "，".join(f"{v} {c}" for v, c in best) in reply
        best = sorted(others.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        assert "其他期望：" + "，".join(f"{v} {c}" for v, c in best) in reply
        unfilled = sum(r["求职期望"] == "" for r in mine)
        assert f"求职期望未填写 {unfilled} 人" in reply
        summary = graduate_summary(db, account)
        assert summary.cities == cities and summary.industries == industries
        assert summary.other_expectations == others
        assert summary.follows_bound == bound and summary.graduates == len(mine)
        assert len(reply) < 600
        assert wechat.event(openid, "CLICK", key="GRADUATES").content == reply
    assert parse_expectation("城市：深圳；行业：金融、教育") == (["深圳"], ["金融", "教育"], None)
    assert parse_expectation("南京 · 软件开发 · 8k以上") == (["南京"], ["软件开发"], None)
    assert parse_expectation("不限") == ([], [], "不限")


def test_graduate_lookup_by_name(db, factory, wechat, tmp_path):
    rows, made = setup_counselors(db, factory, tmp_path)
    openid, _, mine = made[1]
    target = mine[0]
    reply = wechat.ask(openid, f"毕业生 {target['姓名']}")
    assert reply.startswith("找到 1 人")
    assert target["毕业去向"] in reply and ("已关注绑定" if target["关注绑定"] == "是" else "未关注绑定") in reply
    # A graduate of another college is not found, even by exact name.
    outsider = next(r for r in rows if r["院系"] == LANG)
    assert "没有找到" in wechat.ask(openid, f"毕业生 {outsider['姓名']}")


def test_staff_and_unbound_get_no_statistics(db, factory, wechat, tmp_path):
    rows = make_rows()
    import_csv(db, write_csv(tmp_path / "g.csv", rows))
    college = college_named(db, SCHOOL_NAME, CS)
    staff_openid, unbound = new_openid(), new_openid()
    factory.staff("college", college, openid=staff_openid)
    factory.commit()
    for command in ("进展", "毕业生"):
        reply = wechat.ask(staff_openid, command)
        assert "仅向辅导员提供" in reply and "任务" in reply and "进度" in reply
        assert "毕业生 " not in reply and "落实率" not in reply
    assert "仅向辅导员提供" in wechat.event(staff_openid, "CLICK", key="STATS").content
    reply = wechat.ask(unbound, "进展")
    assert "绑定" in reply and "落实率" not in reply


def _counselor(db, factory, college, majors, cohorts, level="本科"):
    openid = new_openid()
    factory.counselor(college, majors=majors, cohorts=cohorts, study_level=level, openid=openid)
    factory.commit()
    return openid


def test_no_match_says_why_and_whom_to_ask(db, factory, wechat, tmp_path):
    rows = [r for r in make_rows() if r["学历层次"] == "本科" and r["届别"] in ("2025", "2026")
            and not (r["专业"] == "网络工程" and r["届别"] == "2026")]
    import_csv(db, write_csv(tmp_path / "g.csv", rows))
    college = college_named(db, SCHOOL_NAME, CS)
    factory.staff("college", college, name="院管理员甲")
    empty_college = factory.college(school=college.parent, name="新建学院")
    factory.staff("school", college.parent, name="校管理员乙")
    factory.commit()
    software, network = majors_named(db, college, [("软件工程", ""), ("网络工程", "")])

    reply = wechat.ask(_counselor(db, factory, empty_college, [factory.major(empty_college, "数学")], [2026]), "进展")
    assert "毕业生 0 人" in reply and "还没有「新建学院」的毕业生记录" in reply and "校管理员乙" in reply

    reply = wechat.ask(_counselor(db, factory, college, [software], [2026], level="硕士"), "进展")
    assert "没有硕士层次" in reply and "现有层次：本科" in reply and "院管理员甲" in reply

    reply = wechat.ask(_counselor(db, factory, college, [software], [2027]), "进展")
    assert "没有2027届" in reply and "现有届别：2025、2026" in reply
    assert "院管理员甲" in reply and "校管理员乙" in reply

    reply = wechat.ask(_counselor(db, factory, college, [network], [2026]), "进展")
    assert "网络工程" in reply and "有记录的专业：" in reply and "软件工程" in reply and "院管理员甲" in reply
    assert "毕业生 0 人" in wechat.ask(_counselor(db, factory, college, [network], [2026]), "毕业生")


def test_destination_counts_use_the_scope_index(db, factory, tmp_path):
    college = factory.college()
    major = factory.major(college)
    account = factory.counselor(college, majors=[major, factory.major(college)], cohorts=[2025, 2026])
    factory.commit()
    stmt = destination_counts_query(scope_of(account))
    sql = str(stmt.compile(db.get_bind(), compile_kwargs={"literal_binds": True}))
    if db.get_bind().dialect.name == "sqlite":
        plan = " ".join(str(row) for row in db.execute(text("EXPLAIN QUERY PLAN " + sql)))
        assert "COVERING INDEX ix_graduates_scope" in plan, plan
    else:
        plan = db.execute(text("EXPLAIN " + sql)).mappings().all()
        assert any(row["key"] == "ix_graduates_scope" for row in plan), plan
