"""`修改 对象 字段 新值`, `重发短信 对象` and `记录` (SPEC 5, 9.5 `已修改`) on every managing level,
and their refusals, through the real webhook."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Account, AuditLog, Identity, SmsOutbox
from models.identity import check_password
from models.sms import full_text
from tests.factories import next_phone
from tests.test_accounts_chat import Org, active, masked



@pytest.fixture
def org(factory, wechat):
    return Org(factory, wechat)


def fresh(db, account_id):
    db.rollback()
    db.expire_all()
    return db.get(Account, account_id)


def outbox(db, phone):
    db.rollback()
    return list(db.scalars(select(SmsOutbox).where(SmsOutbox.phone == phone).order_by(SmsOutbox.id)))


def test_college_edits_its_counselors_fields(org, db):
    c = org.counselor
    reply = org.ask(org.college, f"修改 {c.name} 专业 软件工程,网络工程")
    assert "已修改辅导员" in reply and "软件工程 → 软件工程、网络工程" in reply, reply
    assert sorted(m.name for m in fresh(db, c.id).majors) == ["网络工程", "软件工程"]
    wrong = org.ask(org.college, f"修改 {c.name} 专业 软件工程技术")
    assert "未修改" in wrong and "最接近的有：软件工程" in wrong
    assert "已修改" in org.ask(org.college, f"修改 {c.name} 层次 硕士")
    assert fresh(db, c.id).study_level == "硕士"
    assert "无需修改" in org.ask(org.college, f"修改 {c.name} 层次 硕士")
    assert "已修改" in org.ask(org.college, f"修改 {c.name} 届别 2026,2027")
    assert fresh(db, c.id).cohorts == [2026, 2027]
    assert "已修改" in org.ask(org.college, f"修改 {c.name} 姓名 孙小悦")
    assert fresh(db, c.id).name == "孙小悦"
    # Moving a counselor to another college is the school's.
    moved = org.ask(org.college, "修改 孙小悦 院系 经济管理学院 会计学")
    assert "未修改" in moved and "院系只能由学校账号修改" in moved
    details = [r.detail for r in db.scalars(select(AuditLog).where(AuditLog.action == "edit",
                                                                  AuditLog.target_id == c.id))]
    assert len(details) == 4 and any("专业" in d for d in details) and any("姓名" in d for d in details)


def test_school_moves_a_counselor_and_edits_college_accounts(org, db):
    c = org.counselor
    no_majors = org.ask(org.school, f"修改 {c.name} 院系 经济管理学院")
    assert "未修改" in no_majors and "请写出新院系的负责专业" in no_majors
    ok = org.ask(org.school, f"修改 {c.name} 院系 经济管理学院 会计学")
    assert "已修改" in ok and "计算机学院 → 经济管理学院" in ok, ok
    row = fresh(db, c.id)
    assert row.college_id == org.econ.id and [m.name for m in row.majors] == ["会计学"]
    assert "已修改" in org.ask(org.school, f"修改 {org.college.name} 层次 本科 硕士")
    assert fresh(db, org.college.id).levels == "本科,硕士"
    assert "已修改" in org.ask(org.school, f"修改 {org.college.name} 院系 经济管理学院")
    assert fresh(db, org.college.id).college_id == org.econ.id
    not_for_level = org.ask(org.school, f"修改 {org.college.name} 专业 会计学")
    assert "院级账号可修改的字段为：姓名、手机、院系、层次" in not_for_level


def test_province_and_ministry_edit_their_level_only(org, db, factory):
    assert "已修改" in org.ask(org.province, f"修改 {org.school.name} 姓名 李校长")
    assert fresh(db, org.school.id).name == "李校长"
    assert "校级账号可修改的字段为：姓名、手机" in org.ask(org.province, "修改 李校长 届别 2027")
    assert "已修改" in org.ask(org.ministry, f"修改 {org.province.name} 姓名 赵厅长")
    # A level not managed: by name it is not found; by phone the refusal says who manages it.
    assert "账号不存在" in org.ask(org.province, f"修改 {org.counselor.name} 姓名 某某")
    by_phone = org.ask(org.province, f"修改 {org.counselor.phone} 姓名 某某")
    assert "未修改" in by_phone and "辅导员账号由其所在学校或院系的账号" in by_phone
    assert "不在您管理的单位" in org.ask(org.school2, f"修改 {org.counselor.phone} 姓名 某某")
    assert "仅限各级工作人员" in org.ask(org.counselor, f"修改 {org.college.phone} 姓名 某某")
    assert fresh(db, org.counselor.id).name != "某某"


def test_new_phone_moves_the_same_persons_identity_and_binding(org, db):
    c = org.counselor
    openid, old_phone, new = c.identity.openid, c.phone, next_phone()
    c.identity.username = old_phone  # as the platform makes them: the login name is the phone
    db.commit()
    reply = org.ask(org.college, f"修改 {c.name} 手机 {new}")
    assert "已修改" in reply and masked(old_phone) in reply and masked(new) in reply and "微信绑定保持不变" in reply
    assert active(db, new).id == c.id and active(db, old_phone) is None
    identity = db.scalar(select(Identity).where(Identity.openid == openid))
    assert identity.phone == new and identity.username == new  # the login name follows the phone
    sms = outbox(db, new)
    assert len(sms) == 1 and "手机号已改为本号码" in sms[0].content
    # The counselor keeps working from the same WeChat.
    assert "辅导员" in org.ask(c, "帮助")


def test_new_phone_of_another_identity_links_it_and_old_binding_stops(org, db, factory):
    c = org.counselor
    other = factory.identity(next_phone(), name="别人")
    factory.commit()
    reply = org.ask(org.college, f"修改 {c.name} 手机 {other.phone}")
    assert "已修改" in reply and "已关联" in reply and "不再能使用该账号" in reply
    assert "账号已存在" in outbox(db, other.phone)[0].content
    assert "账号不存在" in org.ask(c, "任务")
    held = org.ask(org.college, f"修改 {c.name} 手机 {org.school.phone}")
    assert "未修改" in held and "东湖大学的校级账号" in held


def test_resend_sms_new_password_until_bound_then_username_only(org, db, factory):
    fresh_c = factory.counselor(org.cs, name="新来的", majors=[org.se], with_identity=True)
    factory.commit()
    old_hash = fresh_c.identity.password_hash
    reply = org.ask(org.college, "重发短信 新来的")
    assert "已向辅导员 新来的" in reply and "新的初始密码" in reply, reply
    sms = outbox(db, fresh_c.phone)[-1]
    assert "初始密码" in sms.content
    password = full_text(sms).split("初始密码：")[1].split("。")[0]
    db.expire_all()
    identity = db.get(Identity, fresh_c.identity.id)
    assert identity.password_hash != old_hash and check_password(identity, password)
    bound = org.ask(org.college, f"重发短信 {org.counselor.name}")
    assert "密码不变" in bound and "账号已存在" in outbox(db, org.counselor.phone)[-1].content
    org.ask(org.college, "重发短信 新来的")
    org.ask(org.college, "重发短信 新来的")
    limited = org.ask(org.college, "重发短信 新来的")
    assert "未重发" in limited and "今天已重发 3 次" in limited
    assert len(outbox(db, fresh_c.phone)) == 3
    assert "不在您管理的单位" in org.ask(org.college_mech, f"重发短信 {org.counselor.phone}")


def test_records_show_changes_in_scope_only(org, db):
    org.ask(org.college, f"修改 {org.counselor.name} 届别 2027")
    org.ask(org.college, f"添加辅导员 孙悦 {next_phone()} 本科 软件工程")
    own = org.ask(org.college, "记录")
    assert "修改" in own and "添加" in own and org.college.name in own, own
    assert "孙悦" in org.ask(org.school, "记录")
    assert "孙悦" not in org.ask(org.school2, "记录") and "还没有账号变更记录" in org.ask(org.college_mech, "记录")
    assert "仅限各级工作人员" in org.ask(org.counselor, "记录")


def test_edit_usage_and_unknown_field(org):
    assert "格式：修改 对象 字段 新值" in org.ask(org.college, "修改")
    assert "可修改的字段为" in org.ask(org.college, f"修改 {org.counselor.name} 生日 1990")

