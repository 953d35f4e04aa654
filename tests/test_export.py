"""`导出 N` and the progress page's Excel file (SPEC 5): opened with openpyxl and held against the
database for a task with recipients in two colleges, per scope; signed, expiring links; the page's
chart by unit, paged pending list and 发送失败 figure."""
from __future__ import annotations

import io
import re

import pytest
import requests
from openpyxl import load_workbook
from sqlalchemy import select, update

from models import Account
from models.tasks import TaskRecipient
from models.vocab import COLLEGE, PROVINCE
from tests.test_dispatch import build_world
from tests.test_notify import two_colleges
from tests.test_task_commands import make_task
from tests.test_task_pages import login
from tests.wechat_client import new_openid

LINK = re.compile(r"https?://\S+/progress/(\d+)/export\.xlsx\?t=\S+")


@pytest.fixture
def world(factory, simulator):
    return build_world(factory, simulator)


def export_link(wechat, openid: str, task_id: int) -> str:
    reply = wechat.ask(openid, f"导出 {task_id}")
    match = LINK.search(reply)
    assert match and int(match.group(1)) == task_id, reply
    return match.group(0)


def download(url: str):
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 200, resp.text[:300]
    assert resp.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    return load_workbook(io.BytesIO(resp.content), read_only=True)


def expected_rows(db, task, college_ids):
    """What the file must hold, read from the database here (not through models/export.py)."""
    db.rollback()
    rows = db.execute(select(Account.name, Account.phone, TaskRecipient.college_id, TaskRecipient.study_level,
                             TaskRecipient.completed_at, TaskRecipient.notify_state, TaskRecipient.delivery)
                      .join(Account, Account.id == TaskRecipient.account_id)
                      .where(TaskRecipient.task_id == task.id, TaskRecipient.college_id.in_(college_ids))).all()
    out = {}
    for name, phone, college_id, level, completed_at, notify_state, delivery in rows:
        state = "已完成" if completed_at else ("未触达" if notify_state == "unreachable" else "未完成")
        out[name] = (phone, college_id, level, state, {"failed": "发送失败", "delivered": "已送达"}.get(delivery, ""))
    return out


def sheet_rows(wb):
    detail = list(wb["接收人"].iter_rows(values_only=True))
    assert detail[0][:9] == ("序号", "姓名", "手机", "学校", "院系", "层次", "状态", "通知送达", "学生查看")
    return detail[1:]


def test_export_rows_match_the_database_per_scope(world, db, wechat, factory, simulator):
    task = make_task(db, world.school_staff, narrowing_ids=two_colleges(world))
    cs, sw = world.colleges["计算机学院"], world.colleges["软件学院"]
    wechat.ask(world.openids["cs_ben"], f"完成 {task.id}")
    wechat.ask(world.openids["sw_ben"], f"完成 {task.id}")
    db.execute(update(TaskRecipient).where(TaskRecipient.task_id == task.id,
                                           TaskRecipient.account_id == world.counselors["sw_shuo"].id)
               .values(delivery="failed"))
    db.execute(update(TaskRecipient).where(TaskRecipient.task_id == task.id,
                                           TaskRecipient.account_id == world.counselors["cs_shuo"].id)
               .values(delivery="delivered"))
    db.commit()
    college_names = {cs.id: "计算机学院", sw.id: "软件学院"}

    # The issuing school: both colleges, whole phones (it manages these counselors).
    wb = download(export_link(wechat, world.school_openid, task.id))
    want = expected_rows(db, task, [cs.id, sw.id])
    got = {r[1]: (r[2], r[4], r[5], r[6], r[7] or "") for r in sheet_rows(wb)}
    assert len(want) == 6 and set(got) == set(want)
    for name, (phone, college_id, level, state, delivery) in want.items():
        assert got[name] == (phone, college_names[college_id], level, state, delivery), name
    summary = list(wb["汇总"].iter_rows(values_only=True))
    by_unit = {r[0]: r for r in summary[2:]}
    assert by_unit["计算机学院"][1:4] == (4, 1, 3) and by_unit["软件学院"][1:4] == (2, 1, 1)
    assert by_unit["软件学院"][8] == 1 and by_unit["合计"][1:4] == (6, 2, 4)

    # The college account: its own college only.
    wb = download(export_link(wechat, world.college_openid, task.id))
    got = {r[1]: r for r in sheet_rows(wb)}
    assert set(got) == set(expected_rows(db, task, [cs.id]))
    assert {r[4] for r in got.values()} == {"计算机学院"}

    # The province sees the task (recipients in its unit) but does not manage counselors: phones masked.
    province = factory.staff(PROVINCE, db.get(type(world.school), world.school.parent_id), openid=new_openid())
    factory.commit()
    simulator.add_user(province.identity.openid)
    wb = download(export_link(wechat, province.identity.openid, task.id))
    rows = sheet_rows(wb)
    assert len(rows) == 6 and all("****" in r[2] for r in rows)

    # Staff of another college with no recipient: no link at all.
    foreign = factory.staff(COLLEGE, world.colleges["外语学院"], openid=new_openid())
    factory.commit()
    assert "没有找到任务" in wechat.ask(foreign.identity.openid, f"导出 {task.id}")
    assert "仅限各级工作人员" in wechat.ask(world.openids["cs_ben"], f"导出 {task.id}")


def test_export_links_are_signed_expire_and_follow_the_account(world, db, wechat, monkeypatch):
    task = make_task(db, world.school_staff)
    other = make_task(db, world.school_staff, title="另一个")
    url = export_link(wechat, world.college_openid, task.id)
    assert requests.get(url, timeout=30).status_code == 200
    token = url.split("?t=")[1]
    base = url.split("/progress/")[0]
    # Another task's address with this token, or a changed token: refused.
    assert requests.get(f"{base}/progress/{other.id}/export.xlsx?t={token}", timeout=30).status_code == 403
    assert requests.get(url[:-3] + "abc", timeout=30).status_code == 404
    # Expired.
    monkeypatch.setattr("handlers.pages.progress.EXPORT_TTL", -1)
    expired = requests.get(url, timeout=30)
    assert expired.status_code == 410 and "已过期" in expired.text
    monkeypatch.undo()
    # The account deleted since: nothing.
    db.rollback()
    db.get(Account, world.college_staff.id).deactivate()
    db.commit()
    assert requests.get(url, timeout=30).status_code == 403


def test_progress_page_chart_failed_count_pages_and_download(world, db, page, simulator, live_server, factory,
                                                             monkeypatch):
    for i in range(7):
        factory.counselor(world.colleges["软件学院"], name=f"补充{'甲乙丙丁戊己庚'[i]}", study_level="本科",
                          cohorts=[2026])
    factory.commit()
    task = make_task(db, world.school_staff, narrowing_ids=two_colleges(world))
    db.execute(update(TaskRecipient).where(TaskRecipient.task_id == task.id,
                                           TaskRecipient.account_id == world.counselors["sw_ben"].id)
               .values(delivery="failed"))
    db.commit()
    monkeypatch.setattr("handlers.pages.progress.PENDING_PAGE", 5)
    login(page, simulator, world.school_openid)
    page.goto(f"{live_server}/progress/{task.id}")
    assert page.inner_text("#fig-failed") == "1"
    assert page.evaluate("window.unitChart.data.labels").count("软件学院") == 1
    assert page.evaluate("window.unitChart.data.datasets[1].data.reduce((a, b) => a + b, 0)") == 13
    assert "第 1/3 页" in page.inner_text("#pager")
    seen = set()
    for n in range(1, 4):
        page.goto(f"{live_server}/progress/{task.id}?page={n}")
        seen |= {line.split("\t")[1] for line in page.inner_text("#pending table").splitlines() if line.strip()}
    assert len(seen) == 13  # every pending counselor, once
    href = page.get_attribute("#export", "href")
    wb = download(href)
    assert len(sheet_rows(wb)) == 13


def test_large_exports_are_written_by_a_job_and_served_by_the_same_link(world, db, wechat, app, run_jobs,
                                                                          monkeypatch, tmp_path):
    task = make_task(db, world.school_staff, narrowing_ids=two_colleges(world))
    monkeypatch.setattr("handlers.pages.progress.EXPORT_INLINE_MAX", 0)
    app.config["EXPORT_DIR"] = str(tmp_path)
    try:
        url = export_link(wechat, world.school_openid, task.id)
        waiting = requests.get(url, timeout=30)
        assert waiting.status_code == 202 and "正在生成" in waiting.text
        assert requests.get(url, timeout=30).status_code == 202  # still one job (its id is the link's)
        run_jobs()
        rows = sheet_rows(download(url))
        assert {r[1] for r in rows} == set(expected_rows(db, task, two_colleges(world)))
        # Another staff user's link is another file: never this one.
        other = requests.get(export_link(wechat, world.college_openid, task.id), timeout=30)
        assert other.status_code == 202
        assert len(list(tmp_path.glob("*.xlsx"))) == 1
    finally:
        app.config.pop("EXPORT_DIR")
