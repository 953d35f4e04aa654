"""Units before data (SPEC 1, 9.3): `units import`, the ministry's `导入单位` in chat, accounts on
units with no graduate yet, refusals that tell each level whom to ask, and 学号 unique per school
(with the migration keeping existing rows)."""
from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from models import Account, Graduate, Unit
from models.migrate import upgrade
from models.importer import import_graduates
from models.unit_import import import_units
from models.vocab import COLLEGE, MINISTRY, PROVINCE, SCHOOL
from tests.factories import next_phone
from tests.test_import import csv_text, row


def units(db, kind):
    db.rollback()
    return sorted(db.scalars(select(Unit.name).where(Unit.kind == kind)))


def test_cli_adds_what_is_missing_and_reports_bad_lines(runner, db, tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("省份,学校,院系\n江苏省,东湖大学,计算机学院\n江苏省,东湖大学,\n江苏省,,计算机学院\n"
                    "江苏省,西山大学,经济学院\n江苏省,东湖大学,计算机学院\n浙江省,南湖大学," + "长" * 101 + "\n",
                    encoding="utf-8")
    result = runner.invoke(args=["units", "import", str(path)])
    assert result.exit_code == 1, result.output
    assert "新增省份 1 个，学校 2 个，院系 2 个" in result.output
    assert "第4行：学校为空" in result.output and "第7行：院系超过100字" in result.output
    assert units(db, SCHOOL) == sorted(["东湖大学", "西山大学"]) and units(db, COLLEGE) == sorted(["计算机学院", "经济学院"])
    # Again: nothing new, nothing changed.
    again = runner.invoke(args=["units", "import", str(path)])
    assert "新增省份 0 个，学校 0 个，院系 0 个；已存在（未改动）4 行" in again.output
    assert runner.invoke(args=["units", "import", str(tmp_path / "none.csv")]).exit_code != 0
    bad = tmp_path / "bad.csv"
    bad.write_text("学校,院系\n东湖大学,计算机学院\n", encoding="utf-8")
    assert "表头应为：省份,学校,院系" in runner.invoke(args=["units", "import", str(bad)]).output


def test_xlsx_and_columns_in_any_order(db):
    wb = Workbook()
    sheet = wb.active
    sheet.append(["学校", "院系", "省份"])
    sheet.append(["北湖大学", "数学学院", "湖北省"])
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    report = import_units(db, out, filename="u.xlsx")
    assert report.errors == [] and report.created == {PROVINCE: 1, SCHOOL: 1, COLLEGE: 1}
    college = db.scalar(select(Unit).where(Unit.name == "数学学院"))
    assert college.parent.name == "北湖大学" and college.school_id == college.parent_id


def test_accounts_on_units_without_graduates(db, factory, wechat, tmp_path, simulator):
    ministry = factory.staff(MINISTRY, factory.ministry(), openid=simulator.add_user()["openid"])
    factory.commit()
    path = tmp_path / "u.csv"
    path.write_text("省份,学校,院系\n甲省,东湖大学,计算机学院\n", encoding="utf-8")
    import_units(db, str(path))
    assert db.scalar(select(func.count()).select_from(Graduate)) == 0
    province_phone, school_phone = next_phone(), next_phone()
    assert "已添加省级" in wechat.ask(ministry.identity.openid, f"添加省级账号 赵敏 {province_phone} 甲省")
    province = db.scalar(select(Account).where(Account.active_phone == province_phone))
    province.identity.openid = simulator.add_user()["openid"]
    db.commit()
    assert "已添加校级" in wechat.ask(province.identity.openid, f"添加学校账号 李强 {school_phone} 东湖大学")
    school = db.scalar(select(Account).where(Account.active_phone == school_phone))
    school.identity.openid = simulator.add_user()["openid"]
    db.commit()
    assert "已添加院级" in wechat.ask(school.identity.openid, f"添加院系账号 王芳 {next_phone()} 计算机学院")
    # No majors yet: a counselor waits for the data, and the school is told where it comes from.
    no_majors = wechat.ask(school.identity.openid, f"添加辅导员 孙悦 {next_phone()} 计算机学院 本科 软件工程")
    assert "还没有专业数据" in no_majors and "部级统一导入" in no_majors and "导入毕业生" not in no_majors
    # A school missing from the list: the province is told whom to ask; the ministry how to import.
    missing = wechat.ask(province.identity.openid, f"添加学校账号 钱七 {next_phone()} 南湖大学")
    assert "请联系部级管理员" in missing and "导入" not in missing.split("：", 2)[-1].replace("部级统一导入", "")
    no_province = wechat.ask(ministry.identity.openid, f"添加省级账号 孙八 {next_phone()} 南海省")
    assert "最接近的有：甲省" in no_province and "导入单位" in no_province


def test_ministry_imports_a_unit_file_from_chat(app, wechat, factory, run_jobs, simulator, tmp_path, db):
    openid = simulator.add_user()["openid"]
    factory.staff(MINISTRY, factory.ministry(), openid=openid)
    college = factory.college()
    factory.staff(COLLEGE, college, openid=(college_openid := simulator.add_user()["openid"]))
    factory.commit()
    (tmp_path / "units.csv").write_text("省份,学校,院系\n丙省,南湖大学,文学院\n丙省,,\n", encoding="utf-8")
    app.config["IMPORT_DIR"] = str(tmp_path)
    try:
        assert "仅限部级" in wechat.ask(college_openid, "导入单位 units.csv")
        assert "表头为 省份,学校,院系" in wechat.ask(openid, "导入单位")
        assert "未找到文件" in wechat.ask(openid, "导入单位 none.csv")
        assert "已开始导入" in wechat.ask(openid, "导入单位 units.csv")
    finally:
        app.config.pop("IMPORT_DIR")
    run_jobs()
    assert "南湖大学" in units(db, SCHOOL) and "文学院" in units(db, COLLEGE)
    report = [m["content"] for m in simulator.inbox(openid) if m["kind"] == "custom"]
    assert len(report) == 1 and "学校 1 个" in report[0] and "第3行：学校为空" in report[0]


def test_student_number_is_unique_per_school_only(db):
    first = import_graduates(db, io.BytesIO(csv_text([row("S1", school="东湖大学", name="甲"),
                                                      row("S1", school="西山大学", name="乙")]).encode()),
                             filename="g.csv")
    assert (first.created, first.updated) == (2, 0)
    again = import_graduates(db, io.BytesIO(csv_text([row("S1", school="西山大学", name="乙二")]).encode()),
                             filename="g.csv")
    assert (again.created, again.updated) == (0, 1)
    db.rollback()
    names = dict(db.execute(select(Unit.name, Graduate.name).join(Unit, Unit.id == Graduate.school_id)).all())
    assert names == {"东湖大学": "甲", "西山大学": "乙二"}


def _migration_url(database_url: str, tmp_path) -> tuple[str, object]:
    if not database_url.startswith("mysql"):
        return f"sqlite:///{tmp_path / 'migrate.db'}", None
    url = make_url(database_url)
    name = f"{url.database}_m16"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))

    def drop():
        with admin.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def test_migration_keeps_graduates_and_frees_the_number_for_other_schools(database_url, tmp_path):
    url, drop = _migration_url(database_url, tmp_path)
    try:
        upgrade(url, "0005")
        engine = create_engine(url)
        tables = {t: Unit.metadata.tables[t] for t in ("units", "majors", "graduates")}
        with engine.begin() as conn:
            conn.execute(insert(tables["units"]), [
                {"id": 1, "kind": "province", "name": "甲省", "province_id": 1},
                {"id": 2, "kind": "school", "name": "东湖大学", "parent_id": 1, "province_id": 1, "school_id": 2},
                {"id": 3, "kind": "school", "name": "西山大学", "parent_id": 1, "province_id": 1, "school_id": 3},
                {"id": 4, "kind": "college", "name": "计算机学院", "parent_id": 2, "province_id": 1, "school_id": 2,
                 "college_id": 4},
                {"id": 5, "kind": "college", "name": "机械学院", "parent_id": 3, "province_id": 1, "school_id": 3,
                 "college_id": 5}])
            conn.execute(insert(tables["majors"]), [{"id": 1, "college_id": 4, "name": "软件工程", "direction": ""},
                                                    {"id": 2, "college_id": 5, "name": "机械工程", "direction": ""}])
            grad = {"name": "张三", "province_id": 1, "study_level": "本科", "cohort": 2026, "destination": "待就业",
                    "intention": "", "expectation": "", "follows_bound": False}
            conn.execute(insert(tables["graduates"]), [dict(grad, student_no="S1", school_id=2, college_id=4,
                                                            major_id=1)])
        upgrade(url, "head")
        with engine.begin() as conn:
            assert conn.execute(select(tables["graduates"].c.student_no, tables["graduates"].c.school_id)).all() \
                == [("S1", 2)]
            conn.execute(insert(tables["graduates"]), [dict(grad, student_no="S1", school_id=3, college_id=5,
                                                            major_id=2)])
        with pytest.raises(IntegrityError):
            with engine.begin() as conn:
                conn.execute(insert(tables["graduates"]), [dict(grad, student_no="S1", school_id=2, college_id=4,
                                                                major_id=1)])
        engine.dispose()
    finally:
        if drop:
            drop()
