"""Staff account commands in chat (SPEC 5), through the real webhook.

Every reply here is checked for full phone numbers (others' phones are always
masked), and an autouse fixture checks the captured logs of each scenario.
"""
from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import select

from models import Account, AuditLog, SmsOutbox
from models.vocab import COLLEGE, COUNSELOR, MINISTRY, PROVINCE, SCHOOL
from tests.factories import next_phone
from tests.wechat_client import new_openid

FULL_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture(autouse=True)
def no_full_phone_in_logs(caplog):
    caplog.set_level(logging.DEBUG)
    yield
    leaked = FULL_PHONE.findall(caplog.text)
    for record in caplog.records:
        leaked += FULL_PHONE.findall(record.getMessage()) + FULL_PHONE.findall(record.exc_text or "")
    assert not leaked, f"full phone numbers in the logs: {leaked[:3]}"


def masked(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}"


class Org:
    """One province with two schools; staff of every level bound to WeChat."""

    def __init__(self, factory, wechat):
        f = factory
        self.wechat = wechat
        self.prov = f.province("甲省")
        f.province("乙省")
        self.school_unit = f.school(self.prov, "东湖大学")
        self.school2_unit = f.school(self.prov, "西山大学")
        self.cs = f.college(self.school_unit, "计算机学院")
        self.econ = f.college(self.school_unit, "经济管理学院")
        self.mech = f.college(self.school2_unit, "机械学院")
        self.se = f.major(self.cs, "软件工程")
        self.cst = f.major(self.cs, "计算机科学与技术")
        self.net = f.major(self.cs, "网络工程")
        self.acc = f.major(self.econ, "会计学")
        self.fin = f.major(self.econ, "金融学")
        self.mech_major = f.major(self.mech, "机械工程")
        self.ministry = f.staff(MINISTRY, f.ministry(), openid=new_openid())
        self.province = f.staff(PROVINCE, self.prov, openid=new_openid())
        self.school = f.staff(SCHOOL, self.school_unit, openid=new_openid())
        self.school2 = f.staff(SCHOOL, self.school2_unit, openid=new_openid())
        self.college = f.staff(COLLEGE, self.cs, openid=new_openid())
        self.college_mech = f.staff(COLLEGE, self.mech, openid=new_openid())
        self.counselor = f.counselor(self.cs, majors=[self.se], cohorts=[2026], openid=new_openid())
        f.commit()

    def ask(self, who: Account, text: str) -> str:
        reply = self.wechat.ask(who.identity.openid, text)
        assert not FULL_PHONE.search(reply), f"full phone in reply: {reply}"
        return reply


@pytest.fixture
def org(factory, wechat):
    return Org(factory, wechat)


def active(db, phone):
    db.rollback()  # a new snapshot: MariaDB's REPEATABLE READ hides other sessions' commits
    db.expire_all()  # (rollback outside a transaction expires nothing)
    return db.scalar(select(Account).where(Account.active_phone == phone))


def test_college_adds_counselor_short_form_and_sms_goes_out(org, db, run_jobs, caplog):
    phone = next_phone()
    reply = org.ask(org.college, f"添加辅导员 孙悦 {phone} 本科 软件工程,网络工程 2026,2027")
    assert "已添加辅导员 孙悦" in reply and masked(phone) in reply and "计算机学院" in reply
    assert "含初始密码" in reply
    acc = active(db, phone)
    assert (acc.level, acc.study_level, acc.cohorts) == (COUNSELOR, "本科", [2026, 2027])
    assert sorted(m.name for m in acc.majors) == ["网络工程", "软件工程"]
    assert acc.created_by_id == org.college.id
    assert db.scalar(select(AuditLog).where(AuditLog.target_id == acc.id)).action == "create"
    outbox = db.scalar(select(SmsOutbox).where(SmsOutbox.phone == phone))
    assert outbox.status == "pending"  # the reply did not wait for the gateway
    run_jobs()
    db.rollback()  # new snapshot for MariaDB
    db.refresh(outbox)
    assert outbox.status == "sent" and f"账号：{phone}" in outbox.content
    # The server thread's log records are captured (so the autouse phone check sees them), masked.
    assert "(counselor) created by" in caplog.text and f"SMS (console) to {masked(phone)}" in caplog.text


def test_full_width_input_and_spaced_majors(org, db):
    phone = next_phone()
    wide = phone.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    reply = org.ask(org.college, f"添加辅导员　孙悦　{wide}　本科　软件工程　网络工程　２０２６")
    assert "已添加辅导员" in reply, reply
    assert sorted(m.name for m in active(db, phone).majors) == ["网络工程", "软件工程"]


def test_school_adds_counselor_long_form_but_needs_the_college(org, db):
    phone = next_phone()
    reply = org.ask(org.school, f"添加辅导员 郑琳 {phone} 经济管理学院 本科 会计学,金融学")
    assert "已添加辅导员 郑琳" in reply, reply
    assert active(db, phone).college_id == org.econ.id
    short = org.ask(org.school, f"添加辅导员 郑琳 {next_phone()} 本科 会计学")
    assert "未添加辅导员" in short and "请填写辅导员所在院系" in short


def test_college_staff_cannot_add_counselor_to_another_college(org, db):
    phone = next_phone()
    reply = org.ask(org.college, f"添加辅导员 郑琳 {phone} 经济管理学院 本科 会计学")
    assert "未添加辅导员" in reply and "只能为本院系（计算机学院）添加辅导员" in reply
    assert active(db, phone) is None
    other_school = org.ask(org.school2, f"添加辅导员 郑琳 {phone} 计算机学院 本科 软件工程")
    assert "未添加辅导员" in other_school and "最接近的有：机械学院" in other_school
    assert active(db, phone) is None


def test_mismatched_major_and_college_get_suggestions(org, db):
    reply = org.ask(org.college, f"添加辅导员 孙悦 {next_phone()} 本科 软件工程技术")
    assert "专业“软件工程技术”" in reply and "最接近的有：软件工程" in reply
    reply = org.ask(org.school, f"添加辅导员 孙悦 {next_phone()} 计算机系 本科 软件工程")
    assert "院系“计算机系”" in reply and "计算机学院" in reply


def test_phone_already_held_is_refused_with_holder_masked(org, db):
    held = org.school.phone
    reply = org.ask(org.college, f"添加辅导员 孙悦 {held} 本科 软件工程")
    assert "未添加辅导员" in reply and masked(held) in reply and "东湖大学的校级账号" in reply
    assert db.scalar(select(Account).where(Account.phone == held, Account.level == COUNSELOR)) is None


def test_every_reason_is_listed(org):
    reply = org.ask(org.college, "添加辅导员 孙悦 1380000 博士后 软件功程 26")
    assert "未添加辅导员，原因：" in reply
    for part in ("1. ", "2. ", "3. ", "4. ", "不是11位", "学历层次“博士后”无效", "软件功程", "届别“26”"):
        assert part in reply, reply


def test_usage_when_arguments_missing(org):
    assert "添加辅导员 姓名 手机 层次" in org.ask(org.college, "添加辅导员")
    assert "格式：删除账号 对象" in org.ask(org.college, "删除账号")
    assert "格式：修改届别" in org.ask(org.college, "修改届别 13900000000")
    assert "格式：届别滚动" in org.ask(org.college, "届别滚动")


def test_province_manages_school_accounts_and_school_cannot(org, db):
    phone = next_phone()
    refused = org.ask(org.school, f"添加学校账号 李强 {phone} 东湖大学")
    assert "未添加学校账号" in refused and "学校账号只能由省级账号" in refused
    ok = org.ask(org.province, f"添加学校账号 李强 {phone} 东湖大学")
    assert "已添加校级 李强" in ok, ok
    assert "不在您管理的单位" in org.ask(org.school2, f"删除账号 {phone}")
    assert "学校账号只能由省级账号" in org.ask(org.school, f"删除账号 {phone}")
    assert "已删除校级 李强" in org.ask(org.province, f"删除账号 {phone}")
    assert active(db, phone) is None


def test_school_adds_college_accounts_with_levels(org, db):
    phone = next_phone()
    reply = org.ask(org.school, f"添加院系账号 王芳 {phone} 经济管理学院 本科 硕士")
    assert "已添加院级 王芳" in reply and "层次:本科、硕士" in reply
    assert active(db, phone).levels == "本科,硕士"
    refused = org.ask(org.college, f"添加院系账号 王二 {next_phone()} 计算机学院")
    assert "院系账号只能由学校账号" in refused


def test_ministry_adds_province_accounts(org, db):
    phone = next_phone()
    assert "已添加省级" in org.ask(org.ministry, f"添加省级账号 赵敏 {phone} 甲省")
    assert "只能由部级账号" in org.ask(org.province, f"添加省级账号 赵敏 {next_phone()} 乙省")
    wrong = org.ask(org.ministry, f"添加省级账号 赵敏 {next_phone()} 甲")
    assert "省份“甲”" in wrong and "甲省" in wrong


def test_delete_counselor_scope(org, db):
    phone = org.counselor.phone
    assert "不在您管理的单位" in org.ask(org.college_mech, f"删除账号 {phone}")
    reply = org.ask(org.college, f"删除账号 {phone}")
    assert "已删除辅导员" in reply and masked(phone) in reply
    assert "账号不存在" in org.ask(org.college, f"删除账号 {phone}")
    row = db.get(Account, org.counselor.id)
    db.rollback()  # new snapshot for MariaDB
    db.refresh(row)
    assert row.active is False and row.deleted_at is not None


def test_sibling_college_of_the_same_school_is_out_of_scope(org, db, factory):
    # 经济管理学院 and 计算机学院 belong to one school: neither college manages the other's counselors.
    econ_staff = factory.staff(COLLEGE, org.econ, openid=new_openid())
    econ_counselor = factory.counselor(org.econ, majors=[org.acc], cohorts=[2026])
    factory.commit()
    assert "不在您管理的单位" in org.ask(econ_staff, f"删除账号 {org.counselor.phone}")
    assert "不在您管理的单位" in org.ask(econ_staff, f"修改届别 {org.counselor.phone} 2027")
    assert "不在您管理的单位" in org.ask(org.college, f"删除账号 {econ_counselor.phone}")
    assert "1 名辅导员添加 2028 届" in org.ask(econ_staff, "届别滚动 2028")
    listing = org.wechat.ask(econ_staff.identity.openid, "账号")  # full phones, of its own accounts only
    assert FULL_PHONE.findall(listing) == [econ_counselor.phone], listing
    assert active(db, org.counselor.phone).cohorts == [2026]
    assert active(db, econ_counselor.phone).cohorts == [2026, 2028]


def test_change_cohorts_and_roll_over_only_in_senders_unit(org, db, factory):
    mech_c = factory.counselor(org.mech, majors=[org.mech_major], cohorts=[2026])
    factory.commit()
    reply = org.ask(org.college, f"修改届别 {org.counselor.phone} 2026,2027")
    assert "由 2026 改为 2026、2027" in reply
    assert "不在您管理的单位" in org.ask(org.college_mech, f"修改届别 {org.counselor.phone} 2028")

    rolled = org.ask(org.college_mech, "届别滚动 2028")
    assert "已为" in rolled and "1 名辅导员添加 2028 届" in rolled
    db.rollback()  # a new snapshot: MariaDB's REPEATABLE READ hides other sessions' commits
    db.expire_all()  # (rollback outside a transaction expires nothing)
    assert db.get(Account, mech_c.id).cohorts == [2026, 2028]
    assert db.get(Account, org.counselor.id).cohorts == [2026, 2027]


def test_account_list_pages_with_full_phones_of_managed_accounts(org, factory, db):
    iot = factory.major(org.cs, "物联网工程")
    for i in range(10):
        factory.counselor(org.cs, name=f"辅导员{i}", majors=[org.se, org.cst, org.net, iot], cohorts=[2026])
    factory.commit()
    page1 = org.wechat.ask(org.college.identity.openid, "账号")
    assert "辅导员 11 个" in page1 and "第 1/2 页" in page1 and "回复「账号 2」" in page1
    # The manager entered these phones and needs them to call; nobody else's phone is shown.
    assert f"1. 辅导员 {org.counselor.name} {org.counselor.phone}" in page1 and len(page1) < 600
    assert {p for p in FULL_PHONE.findall(page1)} <= {a.phone for a in db.scalars(
        select(Account).where(Account.college_id == org.cs.id, Account.level == COUNSELOR))}
    page2 = org.wechat.ask(org.college.identity.openid, "账号 2")
    assert "第 2/2 页" in page2 and "9. " in page2 and "等4个" in page2
    province_view = org.wechat.ask(org.province.identity.openid, "账号")
    assert "校级 2 个" in province_view and "东湖大学" in province_view and "辅导员" not in province_view


def test_not_staff_gets_told_why(org, db, factory):
    assert "仅限各级工作人员" in org.ask(org.counselor, "账号")
    assert "仅限各级工作人员" in org.ask(org.counselor, f"删除账号 {org.college.phone}")
    stranger = org.wechat.ask(new_openid(), "添加辅导员 孙悦 13900000000 本科 软件工程")
    assert "尚未绑定" in stranger
    assert active(db, "13900000000") is None


def test_menu_button_lists_accounts(org):
    reply = org.wechat.event(org.college.identity.openid, "CLICK", key="ACCOUNTS")
    assert reply.content and "计算机学院的下级账号" in reply.content
    assert org.counselor.phone in reply.content and org.college.phone not in reply.content
