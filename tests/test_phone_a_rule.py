"""The phone-A rule (SPEC 2) after an identity's phone changed: openid -> identity -> ITS PHONE
-> active account. The identity keeps the username it was made with (the old phone, as the
platform makes identities), and the old phone still has an account: any join through the
username instead of the phone finds that account, and these tests fail."""
from __future__ import annotations

from sqlalchemy import select

from jobs.dispatch import start_dispatch_fanout
from models.resolution import NO_ACCOUNT, OK, resolve
from models.task_figures import reach
from models.tasks import Notification, TaskRecipient
from models.vocab import SCHOOL
from tests.factories import next_phone
from tests.test_task_commands import make_task
from tests.wechat_client import new_openid


class Moved:
    """One college; a person whose identity moved from phone A to phone B; A's account stays."""

    def __init__(self, factory, simulator):
        self.school = factory.school()
        self.college = factory.college(self.school)
        self.staff = factory.staff(SCHOOL, self.school, openid=new_openid())
        self.phone_a, self.phone_b = next_phone(), next_phone()
        self.openid = new_openid()
        self.on_a = factory.counselor(self.college, name="旧号账号", phone=self.phone_a, with_identity=False)
        self.identity = factory.identity(self.phone_a, "换号人", openid=self.openid, username=self.phone_a)
        factory.follower(self.openid)
        simulator.add_user(self.openid)
        factory.commit()
        self.factory = factory

    def change_phone(self, db) -> None:
        self.identity.phone = self.phone_b
        db.commit()

    def add_account_on_b(self, db):
        self.on_b = self.factory.counselor(self.college, name="新号账号", phone=self.phone_b, with_identity=False)
        db.commit()
        return self.on_b


def test_resolution_follows_the_identitys_new_phone(factory, simulator, db):
    moved = Moved(factory, simulator)
    assert resolve(db, moved.openid).account.id == moved.on_a.id  # before: phone A

    moved.change_phone(db)
    sender = resolve(db, moved.openid)
    # Phone B has no account yet: 账号不存在 case 1, although the username still reads phone A.
    assert (sender.status, sender.identity.id, sender.account) == (NO_ACCOUNT, moved.identity.id, None)

    on_b = moved.add_account_on_b(db)
    sender = resolve(db, moved.openid)
    assert (sender.status, sender.account.id) == (OK, on_b.id)


def test_chat_answers_as_the_account_of_the_new_phone(factory, simulator, db, wechat):
    moved = Moved(factory, simulator)
    moved.change_phone(db)
    assert "账号不存在" in wechat.ask(moved.openid, "任务")
    moved.add_account_on_b(db)
    mine = wechat.ask(moved.openid, "诊断")
    assert "新号账号" in mine and "旧号账号" not in mine


def test_fan_out_and_reach_join_identities_by_phone(factory, simulator, db, run_jobs):
    moved = Moved(factory, simulator)
    moved.change_phone(db)
    on_b = moved.add_account_on_b(db)

    figures = reach(db, moved.staff)
    assert (figures.total, figures.bound, figures.following) == (2, 1, 1)
    assert [account.id for account, _ in figures.not_bound] == [moved.on_a.id]

    task = make_task(db, moved.staff, title="换号后的任务")
    start_dispatch_fanout(task.id)
    run_jobs()
    db.expire_all()
    recipients = dict(db.execute(select(TaskRecipient.account_id, TaskRecipient.notify_state)
                                 .where(TaskRecipient.task_id == task.id)).all())
    assert recipients == {moved.on_a.id: "unreachable", on_b.id: "sent"}
    rows = dict(db.execute(select(Notification.account_id, Notification.openid)
                           .where(Notification.task_id == task.id)).all())
    assert rows == {moved.on_a.id: None, on_b.id: moved.openid}
    assert [m["kind"] for m in simulator.inbox(moved.openid)] == ["template"]
