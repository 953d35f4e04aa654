"""`flask --app wsgi seed demo`: built through the importer and the account rules, idempotent."""
from __future__ import annotations

from sqlalchemy import func, select

from models import Account, AuditLog, Graduate, SmsOutbox, Task, TaskRecipient, Unit
from handlers.cli.demo import ACCOUNTS
from models.vocab import COLLEGE, COUNSELOR, MINISTRY, PROVINCE, SCHOOL, STAFF_LEVELS


def count(db, model, *where):
    return db.scalar(select(func.count()).select_from(model).where(*where))


def test_seed_demo_builds_a_believable_set_and_reruns_cleanly(runner, db):
    first = runner.invoke(args=["seed", "demo"])
    assert first.exit_code == 0, first.output
    assert "错误 0 行" in first.output and f"账号：新建 {len(ACCOUNTS)} 个，已存在 0 个。" in first.output
    for spec in ACCOUNTS:  # the demo phones and levels, for binding in the simulator
        assert spec.phone in first.output
    assert "演示数据已就绪" in first.output
    assert first.output.count("已派发任务 #") == 3

    assert count(db, Unit, Unit.kind == PROVINCE) == 1
    assert count(db, Unit, Unit.kind == SCHOOL) == 2
    assert count(db, Unit, Unit.kind == COLLEGE) >= 4
    graduates = count(db, Graduate)
    assert 200 <= graduates <= 1000
    assert count(db, Graduate, Graduate.destination == "待就业") > 0
    assert count(db, Graduate, Graduate.destination == "协议就业") > 0
    assert count(db, Graduate, Graduate.expectation != "") > 0

    accounts = db.scalars(select(Account).where(Account.active.is_(True))).all()
    levels = {a.level for a in accounts}
    assert levels == {MINISTRY, *STAFF_LEVELS, COUNSELOR}
    for acc in accounts:
        assert acc.identity_id is not None
        if acc.level == COUNSELOR:
            assert acc.majors and acc.cohorts and acc.study_level
            assert all(m.college_id == acc.college_id for m in acc.majors)
    # Each account was created by its superior, through the rules (audited, SMS recorded).
    by_phone = {a.phone: a for a in accounts}
    for spec in ACCOUNTS:
        creator = by_phone[spec.creator].id if spec.creator else None
        assert by_phone[spec.phone].created_by_id == creator
    assert count(db, AuditLog, AuditLog.action == "create") == len(ACCOUNTS)
    assert count(db, SmsOutbox) == len(ACCOUNTS)

    second = runner.invoke(args=["seed", "demo"])
    assert second.exit_code == 0, second.output
    assert f"新增 0 条，更新 {graduates} 条" in second.output
    assert f"账号：新建 0 个，已存在 {len(ACCOUNTS)} 个。" in second.output
    db.rollback()  # a new snapshot: MariaDB's REPEATABLE READ hides other sessions' commits
    db.expire_all()  # (rollback outside a transaction expires nothing)
    assert count(db, Graduate) == graduates
    assert count(db, Account) == len(ACCOUNTS)
    assert count(db, SmsOutbox) == len(ACCOUNTS)
    # A few tasks, dispatched through the 派发 path, not duplicated by the rerun.
    assert count(db, Task) == 3
    assert {t.type for t in db.scalars(select(Task))} == {"就业创业政策", "招聘会", "就业创业直播课"}
    assert count(db, TaskRecipient) > 0
    # Written for students too: each demo task has its 给学生 text, apart from the counselors' 内容,
    # and a link (the fair's page, the live course's room).
    for task in db.scalars(select(Task)):
        assert task.student_text and task.student_text != task.content and "辅导员请" not in task.student_text
        assert task.link


def test_seed_demo_refuses_in_production_without_force(app, runner, db, monkeypatch):
    monkeypatch.setitem(app.config, "ENV_NAME", "production")
    refused = runner.invoke(args=["seed", "demo"])
    assert refused.exit_code != 0 and "--force" in refused.output
    assert count(db, Account) == 0 and count(db, Unit) == 0
    forced = runner.invoke(args=["seed", "demo", "--force"])
    assert forced.exit_code == 0 and "演示数据已就绪" in forced.output, forced.output
