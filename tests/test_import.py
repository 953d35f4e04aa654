"""Graduate import (SPEC 9.4): CSV with and without BOM, .xlsx, bad rows, updates, CLI, job."""
from __future__ import annotations

import io
import os

import pytest
from sqlalchemy import func, select

from models import Graduate, Major, Unit
from models.importer import COLUMNS, import_graduates
from models.vocab import COLLEGE, MINISTRY, PROVINCE, SCHOOL

HEADER = ",".join(COLUMNS)


def row(no, name="张三", province="江苏省", school="东湖大学", college="计算机学院", major="软件工程",
        direction="", level="本科", cohort="2026", dest="协议就业", intention="民营企业", expectation="南京 · 开发",
        follows="是"):
    return [no, name, province, school, college, major, direction, level, cohort, dest, intention, expectation,
            follows]


def csv_text(rows, header=HEADER) -> str:
    import csv

    out = io.StringIO()
    out.write(header + "\n")
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def count(db, model, *where):
    return db.scalar(select(func.count()).select_from(model).where(*where))


def test_csv_with_bad_rows_reports_line_numbers_and_keeps_good_rows(db, tmp_path):
    text = (
        HEADER + "\n"
        + ",".join(row("S001", direction="人工智能")) + "\n"                                  # 2 good
        + ",".join(row("S002", level="大专")) + "\n"                                          # 3 bad level
        + "\n"                                                                                # 4 blank: skipped
        + ",".join(row("S003", cohort="26", dest="上班")) + "\n"                              # 5 two reasons
        + ",".join(row("", name="")) + "\n"                                                   # 6 missing
        + ",".join(row("S004", expectation='"苏州,\n上海"')) + "\n"  # 7-8 good
        + ",".join(row("S005", follows="Y")) + "\n"                                           # 9 bad 关注绑定
        + ",".join(row("S006", college="经济管理学院", major="会计学", level="硕士", cohort="2025",
                       dest="待就业", follows="否")) + "\n"                                    # 10 good
        + "S007,李四,江苏省\n"                                                                  # 11 short row
    )
    path = tmp_path / "grads.csv"
    path.write_text(text, encoding="utf-8")
    report = import_graduates(db, str(path))

    assert (report.created, report.updated) == (3, 0)
    lines = {line: reason for line, reason in report.errors}
    assert sorted(lines) == [3, 5, 6, 9, 11]
    assert "学历层次“大专”无效" in lines[3]
    assert "届别“26”" in lines[5] and "毕业去向“上班”无效" in lines[5]
    assert "学号为空" in lines[6] and "姓名为空" in lines[6]
    assert "关注绑定“Y”" in lines[9]
    assert "学校为空" in lines[11]

    grads = {g.student_no: g for g in db.scalars(select(Graduate))}
    assert sorted(grads) == ["S001", "S004", "S006"]
    assert grads["S004"].expectation == "苏州,\n上海"
    assert grads["S006"].destination == "待就业" and grads["S006"].follows_bound is False
    assert grads["S001"].follows_bound is True and grads["S001"].cohort == 2026
    ai = db.get(Major, grads["S001"].major_id)
    assert (ai.name, ai.direction) == ("软件工程", "人工智能")
    # The unit tree was built once, with ancestry filled in.
    school = db.scalar(select(Unit).where(Unit.kind == SCHOOL))
    college = db.get(Unit, grads["S006"].college_id)
    assert college.kind == COLLEGE and college.school_id == school.id and college.province_id == school.province_id
    assert count(db, Unit, Unit.kind == PROVINCE) == 1 and count(db, Unit, Unit.kind == COLLEGE) == 2
    assert count(db, Unit, Unit.kind == MINISTRY) == 1

    summary = report.summary()
    assert "新增 3 条，更新 0 条，错误 5 行" in summary and "第3行：" in summary and "第11行：" in summary


def test_awkward_text_is_stored_exactly(db):
    # On MariaDB new rows go in by LOAD DATA (models/bulk_load.py): its escape character, its word
    # for NULL and the separators of other formats must come back as typed.
    names = ["反斜杠\\", "\\N", "NULL", "O'Neil \"小王\"", "😀表情"]
    expectations = ["制表\t符", "换行\n之后", "逗号,分号;", "\\t 不是制表符", "C:\\路径\\"]
    rows = [row(f"W{i}", name=name, expectation=wish) for i, (name, wish) in enumerate(zip(names, expectations))]
    report = import_graduates(db, io.BytesIO(csv_text(rows).encode()), filename="awkward.csv")
    assert (report.created, report.errors) == (5, [])
    stored = {g.student_no: (g.name, g.expectation) for g in db.scalars(select(Graduate))}
    assert stored == {f"W{i}": pair for i, pair in enumerate(zip(names, expectations))}


def test_same_student_number_updates(db, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(csv_text([row("S100"), row("S101")]), encoding="utf-8")
    assert import_graduates(db, str(path)).created == 2
    path.write_text(csv_text([row("S100", dest="升学", major="网络工程", direction="安全"), row("S102")]),
                    encoding="utf-8")
    report = import_graduates(db, str(path))
    assert (report.created, report.updated, report.errors) == (1, 1, [])
    assert count(db, Graduate) == 3
    grad = db.scalar(select(Graduate).where(Graduate.student_no == "S100"))
    db.refresh(grad)
    assert grad.destination == "升学" and db.get(Major, grad.major_id).label == "网络工程（安全）"


def test_reimport_writes_only_changed_rows_and_later_duplicate_wins(db):
    from datetime import datetime

    from sqlalchemy import update

    first = csv_text([row("U1"), row("U2"), row("U3")])
    assert import_graduates(db, io.BytesIO(first.encode()), filename="a.csv", batch_size=2).created == 3
    old = datetime(2020, 1, 1)
    db.execute(update(Graduate).values(updated_at=old))
    db.commit()

    again = csv_text([
        row("U1"),                                                          # unchanged
        row("U2", name="王五", cohort="2025", follows="否", school="西湖大学"),  # another school's U2: new
        row("U4", dest="升学"), row("U4", dest="应征入伍"),                    # new, twice in one batch
        row("U3"),                                                          # unchanged, next batch
        row("U2", name="王五", cohort="2025", follows="否", school="西湖大学", intention="考公"),  # again
    ])
    report = import_graduates(db, io.BytesIO(again.encode()), filename="b.csv", batch_size=4)
    # A 学号 is unique within its school only: 西湖大学's U2 never overwrites 东湖大学's (SPEC 1).
    assert (report.created, report.updated, report.errors, report.units_created) == (2, 4, [], 2)
    assert count(db, Graduate) == 5
    grads = {(db.get(Unit, g.school_id).name, g.student_no): g
             for g in db.scalars(select(Graduate).execution_options(populate_existing=True))}
    assert grads[("东湖大学", "U4")].destination == "应征入伍"
    u2 = grads[("西湖大学", "U2")]
    assert (u2.name, u2.cohort, u2.follows_bound, u2.intention) == ("王五", 2025, False, "考公")
    assert db.get(Major, u2.major_id).college_id == u2.college_id
    # Unchanged rows are not rewritten: their updated_at stays (东湖大学's U2 too).
    assert all(grads[("东湖大学", n)].updated_at == old for n in ("U1", "U2", "U3"))
    assert grads[("东湖大学", "U2")].name == "张三" and u2.updated_at > old


def test_bom_and_file_object_and_small_batches(db):
    data = ("\ufeff" + csv_text([row(f"B{i:03d}") for i in range(23)])).encode("utf-8")
    report = import_graduates(db, io.BytesIO(data), filename="upload.csv", batch_size=5)
    assert (report.created, report.errors) == (23, [])
    # Batches leave no graduate behind in the session: memory stays flat.
    assert not any(isinstance(obj, Graduate) for obj in db.identity_map.values())


def test_xlsx_import(db, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(list(COLUMNS))
    sheet.append(row("X001", cohort=2026))                  # an int cell, as Excel stores it
    sheet.append(row("X002", cohort=2025.0, level="硕士"))  # a float cell
    sheet.append([None] * 13)                                # blank row
    sheet.append(row("X003", dest="暂不就业", follows="否", direction="嵌入式"))
    sheet.append(row("X004", cohort="二零二六"))            # bad
    path = tmp_path / "grads.xlsx"
    book.save(path)

    report = import_graduates(db, str(path))
    assert (report.created, report.updated) == (3, 0)
    assert len(report.errors) == 1 and report.errors[0][0] == 6 and "届别" in report.errors[0][1]
    x2 = db.scalar(select(Graduate).where(Graduate.student_no == "X002"))
    assert (x2.cohort, x2.study_level) == (2025, "硕士")
    # .xlsx is recognised by content too, whatever the name.
    with open(path, "rb") as fh:
        again = import_graduates(db, fh, filename="upload.bin")
    assert (again.created, again.updated) == (0, 3)


@pytest.mark.parametrize("header, expected", [
    ("学号,姓名,省份,学校,院系,专业,学历层次,届别,毕业去向,就业意愿,求职期望,关注绑定", "缺少列：专业方向"),
    (HEADER + ",备注", "无法识别的列：备注"),
    ("", "文件为空"),
])
def test_wrong_header_imports_nothing(db, header, expected):
    body = (header + "\n" + ",".join(row("H1")) + "\n") if header else ""
    report = import_graduates(db, io.BytesIO(body.encode()), filename="x.csv")
    assert report.created == 0 and len(report.errors) == 1
    assert expected in report.errors[0][1]
    assert count(db, Graduate) == 0


def test_non_utf8_file_is_reported(db):
    data = csv_text([row("G1")]).encode("gbk")
    report = import_graduates(db, io.BytesIO(data), filename="gbk.csv")
    assert report.created == 0
    assert "UTF-8" in report.errors[0][1]
    assert "文件：" in report.summary()


def test_cli_import_prints_chinese_report(runner, db, tmp_path):
    path = tmp_path / "cli.csv"
    path.write_text(csv_text([row("C1"), row("C2", level="本")]), encoding="utf-8")
    result = runner.invoke(args=["graduates", "import", str(path)])
    assert result.exit_code == 1
    assert "导入完成：新增 1 条，更新 0 条，错误 1 行。" in result.output
    assert "第3行：学历层次“本”无效" in result.output
    path.write_text(csv_text([row("C1", dest="升学")]), encoding="utf-8")
    ok = runner.invoke(args=["graduates", "import", str(path)])
    assert ok.exit_code == 0 and "更新 1 条" in ok.output


def test_import_job_reports_by_customer_service_message(app, db, run_jobs, simulator, tmp_path):
    from jobs.imports import run_import, start_import

    openid = simulator.add_user()["openid"]
    path = tmp_path / "big.csv"
    path.write_text(csv_text([row(f"J{i:04d}") for i in range(40)] + [row("J9999", dest="??")]), encoding="utf-8")
    job = start_import(str(path), openid=openid)
    assert job is not None and job.func == run_import
    assert start_import(str(path), openid=openid) is None  # the same file is not queued twice
    run_jobs()
    assert count(db, Graduate) == 40
    texts = [m["content"] for m in simulator.inbox(openid) if m["kind"] == "custom"]
    assert len(texts) == 1
    assert "big.csv" in texts[0] and "新增 40 条" in texts[0] and "第42行：毕业去向“??”无效" in texts[0]


def test_ministry_starts_import_from_chat(app, wechat, factory, run_jobs, simulator, tmp_path, db):
    openid = simulator.add_user()["openid"]
    factory.staff(MINISTRY, factory.ministry(), openid=openid)
    college = factory.college()
    factory.staff(COLLEGE, college, openid=(college_openid := simulator.add_user()["openid"]))
    factory.commit()
    (tmp_path / "data.csv").write_text(csv_text([row("W1"), row("W2")]), encoding="utf-8")
    app.config["IMPORT_DIR"] = str(tmp_path)
    try:
        assert "仅限部级" in wechat.ask(college_openid, "导入毕业生 data.csv")
        assert "文件名“../x.csv”无效" in wechat.ask(openid, "导入毕业生 ../x.csv")
        assert "未找到文件" in wechat.ask(openid, "导入毕业生 none.csv")
        assert "已开始导入" in wechat.ask(openid, "导入毕业生 data.csv")
    finally:
        app.config.pop("IMPORT_DIR")
    run_jobs()
    assert count(db, Graduate) == 2
    assert any("新增 2 条" in m["content"] for m in simulator.inbox(openid))
    assert os.path.exists(tmp_path / "data.csv")
