"""SPEC 1 account rules, each both ways (allowed and refused), on the rules themselves.

The chat commands on top of them are covered in test_accounts_chat.py.
"""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from models import Account, AuditLog, Identity, SmsOutbox
from handlers import follow_up
from models import account_changes as changes
from models import account_rules as rules
from models.identity import check_password
from models.identity_accounts import EXISTING_TEXT, random_password
from models.text import suggest
from models.vocab import COLLEGE, COUNSELOR, MINISTRY, PROVINCE, SCHOOL
from models.sms import full_text
from tests.factories import next_phone


@pytest.fixture
def tree(factory):
    """Two provinces; province A has schools A1 (two colleges) and A2; every staff level present."""
    t = type("Tree", (), {})()
    f = factory
    t.ministry_unit = f.ministry()
    t.prov_a, t.prov_b = f.province("甲省"), f.province("乙省")
    t.school_a1 = f.school(t.prov_a, "东湖大学")
    t.school_a2 = f.school(t.prov_a, "西山大学")
    t.school_b1 = f.school(t.prov_b, "北岭大学")
    t.cs = f.college(t.school_a1, "计算机学院")
    t.econ = f.college(t.school_a1, "经济管理学院")
    t.other_college = f.college(t.school_a2, "机械学院")
    t.se = f.major(t.cs, "软件工程")
    t.cst = f.major(t.cs, "计算机科学与技术")
    t.cst_ai = f.major(t.cs, "计算机科学与技术", direction="人工智能")
    t.acc = f.major(t.econ, "会计学")
    t.mech = f.major(t.other_college, "机械设计制造及其自动化")
    t.ministry = f.staff(MINISTRY, t.ministry_unit)
    t.province = f.staff(PROVINCE, t.prov_a)
    t.province_b = f.staff(PROVINCE, t.prov_b)
    t.school = f.staff(SCHOOL, t.school_a1)
    t.school2 = f.staff(SCHOOL, t.school_a2)
    t.college = f.staff(COLLEGE, t.cs)
    t.college_econ = f.staff(COLLEGE, t.econ, levels="本科")
    t.counselor = f.counselor(t.cs, majors=[t.se], cohorts=[2026])
    f.commit()
    return t


def audit_count(db, action=None):
    query = select(func.count()).select_from(AuditLog)
    if action:
        query = query.where(AuditLog.action == action)
    return db.scalar(query)


# ------------------------------------------------------------- who creates whom
def test_ministry_creates_province_accounts_and_nobody_else_does(db, tree):
    for actor in (tree.province, tree.school, tree.college):
        res = rules.add_province_account(db, actor, name="赵敏", phone=next_phone(), province="甲省")
        assert not res.ok and "只能由部级账号" in res.reasons[0]
    res = rules.add_province_account(db, tree.ministry, name="赵敏", phone=next_phone(), province="甲省")
    assert res.ok, res.reasons
    assert res.account.level == PROVINCE and res.account.unit_id == tree.prov_a.id


def test_province_manages_school_accounts_and_school_cannot(db, tree):
    phone = next_phone()
    refused = rules.add_school_account(db, tree.school, name="李强", phone=phone, school="东湖大学")
    assert not refused.ok and "学校账号只能由省级账号" in refused.reasons[0]
    assert rules.add_school_account(db, tree.ministry, name="李强", phone=phone, school="东湖大学").ok is False
    ok = rules.add_school_account(db, tree.province, name="李强", phone=phone, school="东湖大学")
    assert ok.ok, ok.reasons
    assert ok.account.school_id == tree.school_a1.id
    # Only the province changes or deletes it: the school itself, a peer school, another province may not.
    for actor, why in ((tree.school, "学校账号只能由省级账号"), (tree.school2, "不在您管理的单位"),
                       (tree.province_b, "不在您管理的单位")):
        res = changes.delete_account(db, actor, phone)
        assert not res.ok and why in res.reasons[0], res.reasons
    assert changes.delete_account(db, tree.province, phone).ok


def test_province_cannot_add_school_of_another_province(db, tree):
    res = rules.add_school_account(db, tree.province, name="李强", phone=next_phone(), school="北岭大学")
    assert not res.ok
    assert "北岭大学" in res.reasons[0] and "东湖大学" in res.reasons[0]  # its own schools suggested


def test_school_creates_college_accounts_with_optional_levels(db, tree):
    res = rules.add_college_account(db, tree.school, name="王芳", phone=next_phone(), college="经济管理学院",
                                    levels="本科,硕士")
    assert res.ok, res.reasons
    assert res.account.levels == "本科,硕士" and res.account.study_levels == ("本科", "硕士")
    all_levels = rules.add_college_account(db, tree.school, name="王二", phone=next_phone(), college="计算机学院")
    assert all_levels.ok and all_levels.account.levels is None
    for actor in (tree.province, tree.college, tree.counselor):
        res = rules.add_college_account(db, actor, name="王芳", phone=next_phone(), college="计算机学院")
        assert not res.ok and "院系账号只能由学校账号" in res.reasons[0]
    other = rules.add_college_account(db, tree.school, name="王芳", phone=next_phone(), college="机械学院")
    assert not other.ok and "计算机学院" in other.reasons[0]  # not in its school: suggestions from its own


def test_school_adds_counselors_to_any_of_its_colleges(db, tree):
    res = rules.add_counselor(db, tree.school, name="郑琳", phone=next_phone(), college="经济管理学院",
                              study_level="本科", majors="会计学", cohorts="2026,2027")
    assert res.ok, res.reasons
    acc = res.account
    assert (acc.college_id, acc.study_level, [m.name for m in acc.majors], acc.cohorts) == \
        (tree.econ.id, "本科", ["会计学"], [2026, 2027])
    missing = rules.add_counselor(db, tree.school, name="郑琳", phone=next_phone(), study_level="本科",
                                  majors="会计学")
    assert not missing.ok and "请填写辅导员所在院系" in missing.reasons[0]
    foreign = rules.add_counselor(db, tree.school, name="郑琳", phone=next_phone(), college="机械学院",
                                  study_level="本科", majors="机械设计制造及其自动化")
    assert not foreign.ok and "机械学院" in foreign.reasons[0]


def test_college_staff_adds_counselors_only_to_its_own_college(db, tree):
    ok = rules.add_counselor(db, tree.college, name="孙悦", phone=next_phone(), study_level="本科",
                             majors=["软件工程", "计算机科学与技术"], cohorts=[2026])
    assert ok.ok, ok.reasons
    # A bare major name takes all its 专业方向.
    assert sorted(m.label for m in ok.account.majors) == ["计算机科学与技术", "计算机科学与技术（人工智能）", "软件工程"]
    other = rules.add_counselor(db, tree.college, name="孙悦", phone=next_phone(), college="经济管理学院",
                                study_level="本科", majors="会计学")
    assert not other.ok and "只能为本院系（计算机学院）添加辅导员" in other.reasons[0]
    same = rules.add_counselor(db, tree.college, name="孙月", phone=next_phone(), college="计算机学院",
                               study_level="本科", majors="软件工程")
    assert same.ok


def test_higher_levels_do_not_add_counselors(db, tree):
    for actor in (tree.ministry, tree.province, tree.counselor):
        res = rules.add_counselor(db, actor, name="孙悦", phone=next_phone(), college="计算机学院",
                                  study_level="本科", majors="软件工程")
        assert not res.ok and "辅导员账号由其所在学校或院系" in res.reasons[0]


def test_college_account_limited_to_levels(db, tree):
    refused = rules.add_counselor(db, tree.college_econ, name="钱多", phone=next_phone(), study_level="硕士",
                                  majors="会计学")
    assert not refused.ok and "只管理本科层次" in refused.reasons[0]
    assert rules.add_counselor(db, tree.college_econ, name="钱多", phone=next_phone(), study_level="本科",
                               majors="会计学").ok


def test_specific_direction_and_full_width_parentheses(db, tree):
    res = rules.add_counselor(db, tree.college, name="孙悦", phone=next_phone(), study_level="本科",
                              majors="计算机科学与技术(人工智能)")
    assert res.ok and [m.id for m in res.account.majors] == [tree.cst_ai.id]


# --------------------------------------------------------------- one phone
def test_phone_held_by_any_active_account_is_refused_and_names_holder(db, tree):
    held = tree.school.phone
    res = rules.add_counselor(db, tree.college, name="孙悦", phone=held, study_level="本科", majors="软件工程")
    assert not res.ok
    text = res.text()
    assert "校级" in text and "东湖大学" in text
    assert held not in text and f"{held[:3]}****{held[-4:]}" in text
    # After a soft delete the phone is free again and a new account takes it.
    assert changes.delete_account(db, tree.province, held).ok
    again = rules.add_counselor(db, tree.college, name="孙悦", phone=held, study_level="本科", majors="软件工程")
    assert again.ok, again.reasons
    assert db.scalar(select(func.count()).select_from(Account).where(Account.phone == held)) == 2


def test_every_reason_is_listed_at_once(db, tree):
    res = rules.add_counselor(db, tree.college, name="孙悦1", phone="12345", study_level="大专",
                              majors="软件功程,数字媒体", cohorts="26,2027")
    assert not res.ok
    joined = "\n".join(res.reasons)
    for part in ("姓名", "不是11位", "学历层次“大专”无效", "软件功程", "数字媒体", "届别“26”"):
        assert part in joined, joined
    assert len(res.reasons) == 6
    assert audit_count(db) == 0


# --------------------------------------------------------- name matching
def test_mismatched_major_gets_up_to_three_closest_names(db, tree):
    res = rules.add_counselor(db, tree.college, name="孙悦", phone=next_phone(), study_level="本科",
                              majors="软件工程技术")
    assert not res.ok
    reason = res.reasons[0]
    assert "软件工程技术" in reason and "最接近的有：软件工程" in reason
    near = reason.split("最接近的有：")[1].split("（")[0].split("、")
    assert 1 <= len(near) <= 3


def test_mismatched_college_gets_suggestions(db, tree):
    res = rules.add_counselor(db, tree.school, name="孙悦", phone=next_phone(), college="计算机系",
                              study_level="本科", majors="软件工程")
    assert not res.ok
    assert any("最接近的有：计算机学院" in r for r in res.reasons)


def test_suggest_ranks_and_limits():
    names = ["软件工程", "计算机科学与技术", "网络工程", "物联网工程", "数字媒体技术"]
    assert suggest("软件工程师", names)[0] == "软件工程"
    assert len(suggest("工程", names)) == 3
    assert suggest("历史学", names) == []


def test_college_without_majors_says_who_brings_the_data(db, tree, factory):
    empty = factory.college(tree.school_a1, "新设学院")
    factory.commit()
    res = rules.add_counselor(db, tree.school, name="孙悦", phone=next_phone(), college="新设学院",
                              study_level="本科", majors="软件工程")
    # A school cannot import: it is told where majors come from, not to import them itself.
    assert not res.ok and "还没有专业数据" in res.reasons[0] and "部级统一导入" in res.reasons[0]
    assert "导入毕业生" not in res.reasons[0]
    assert empty.id


# ---------------------------------------------------------------- delete
def test_delete_is_soft_scoped_and_audited(db, tree):
    phone = tree.counselor.phone
    for actor in (tree.school2, tree.college_econ, tree.province):
        assert not changes.delete_account(db, actor, phone).ok
    assert changes.delete_account(db, tree.college, tree.college.phone).reasons[0].startswith("不能删除自己")
    res = changes.delete_account(db, tree.college, phone)
    assert res.ok and phone not in res.message
    row = db.get(Account, tree.counselor.id)
    assert row.active is False and row.active_phone is None and row.deleted_at is not None
    log = db.scalar(select(AuditLog).where(AuditLog.action == "delete"))
    assert log.actor_account_id == tree.college.id and log.target_id == row.id
    assert phone not in log.detail
    gone = changes.delete_account(db, tree.college, phone)
    assert not gone.ok and "账号不存在" in gone.reasons[0]


def test_school_deletes_college_accounts_but_college_does_not_delete_peers(db, tree):
    peer = rules.add_college_account(db, tree.school, name="王二", phone=next_phone(), college="计算机学院").account
    res = changes.delete_account(db, tree.college, peer.phone)
    assert not res.ok and "院系账号只能由学校账号" in res.reasons[0]
    assert changes.delete_account(db, tree.school, peer.phone).ok


# --------------------------------------------------------------- cohorts
def test_change_cohorts_allowed_in_scope_only(db, tree):
    phone = tree.counselor.phone
    refused = changes.change_cohorts(db, tree.college_econ, phone, "2027")
    assert not refused.ok and "不在您管理的单位" in refused.reasons[0]
    not_counselor = changes.change_cohorts(db, tree.school, tree.college.phone, "2027")
    assert not not_counselor.ok and "只有辅导员账号有负责届别" in not_counselor.text()
    ok = changes.change_cohorts(db, tree.school, phone, "2026,2027")
    assert ok.ok and "由 2026 改为 2026、2027" in ok.message
    assert db.get(Account, tree.counselor.id).cohorts == [2026, 2027]
    same = changes.change_cohorts(db, tree.school, phone, "2027,2026")
    assert not same.ok and "无需修改" in same.reasons[0]
    bad = changes.change_cohorts(db, tree.school, phone, "明年")
    assert not bad.ok and "届别“明年”" in bad.reasons[0]
    assert audit_count(db, "change_cohorts") == 1


def test_roll_over_touches_only_the_senders_unit(db, tree, factory):
    econ_c = factory.counselor(tree.econ, study_level="本科", majors=[tree.acc], cohorts=[2026])
    econ_master = factory.counselor(tree.econ, study_level="硕士", majors=[tree.acc], cohorts=[2026])
    mech_c = factory.counselor(tree.other_college, majors=[tree.mech], cohorts=[2026])
    cs_2 = factory.counselor(tree.cs, majors=[tree.se], cohorts=[2026, 2027])
    factory.commit()

    res = changes.roll_over(db, tree.college, "2027")
    assert res.ok and res.count == 1 and "另有 1 名已负责 2027 届" in res.message
    cohorts = {a.id: db.get(Account, a.id).cohorts for a in (tree.counselor, cs_2, econ_c, econ_master, mech_c)}
    assert cohorts == {tree.counselor.id: [2026, 2027], cs_2.id: [2026, 2027], econ_c.id: [2026],
                       econ_master.id: [2026], mech_c.id: [2026]}
    # A college account limited to 本科 rolls only its 本科 counselors.
    limited = changes.roll_over(db, tree.college_econ, 2027)
    assert limited.ok and limited.count == 1
    assert db.get(Account, econ_master.id).cohorts == [2026]
    # Rolling again changes nothing and says so.
    again = changes.roll_over(db, tree.college, "2027")
    assert again.ok and again.count == 0
    assert audit_count(db, "cohort_rollover") == 2
    # The school rolls every college of its own, not the other school's.
    changes.roll_over(db, tree.school, "2028")
    assert 2028 in db.get(Account, econ_master.id).cohorts and 2028 not in db.get(Account, mech_c.id).cohorts


def test_roll_over_refuses_bad_year_and_empty_unit(db, tree, factory):
    assert "届别“27”" in changes.roll_over(db, tree.college, "27").reasons[0]
    lonely = factory.staff(COLLEGE, factory.college(tree.school_a2, "空学院"))
    factory.commit()
    assert "还没有辅导员账号" in changes.roll_over(db, lonely, "2027").reasons[0]
    assert "仅限各级工作人员" in changes.roll_over(db, tree.counselor, "2027").reasons[0]


def test_default_cohort_follows_the_academic_year():
    assert rules.default_cohort(datetime(2026, 3, 1)) == 2026
    assert rules.default_cohort(datetime(2026, 8, 31)) == 2026
    assert rules.default_cohort(datetime(2026, 9, 1)) == 2027


def test_counselor_without_cohorts_gets_the_current_one(db, tree):
    res = rules.add_counselor(db, tree.college, name="孙悦", phone=next_phone(), study_level="本科",
                              majors="软件工程", now=datetime(2026, 10, 8))
    assert res.ok and res.account.cohorts == [2027]


# -------------------------------------------------------- identity + audit
def test_new_identity_gets_credentials_by_sms(db, tree):
    phone = next_phone()
    res = rules.add_counselor(db, tree.college, name="孙悦", phone=phone, study_level="本科", majors="软件工程",
                              notify="now")
    assert res.ok and "含初始密码" in res.message
    identity = db.scalar(select(Identity).where(Identity.phone == phone))
    assert identity.username == phone and res.account.identity_id == identity.id
    sms = db.scalar(select(SmsOutbox).where(SmsOutbox.phone == phone))
    assert sms.status == "sent" and f"账号：{phone}" in sms.content
    password = full_text(sms).split("初始密码：")[1].split("。")[0]
    assert len(password) == 10 and check_password(identity, password)
    audit = db.scalar(select(AuditLog).where(AuditLog.action == "create", AuditLog.target_id == res.account.id))
    assert audit.actor_account_id == tree.college.id and "计算机学院" in audit.actor and phone not in audit.detail


def test_existing_identity_is_linked_and_told_to_use_its_password(db, tree, factory):
    phone = next_phone()
    identity = factory.identity(phone, "孙悦")
    identity.username = "sunyue2020"
    factory.commit()
    res = rules.add_counselor(db, tree.college, name="孙悦", phone=phone, study_level="本科", majors="软件工程",
                              notify="now")
    assert res.ok and res.account.identity_id == identity.id
    sms = db.scalar(select(SmsOutbox).where(SmsOutbox.phone == phone))
    assert sms.content == "温馨提示：您的账号已存在，请使用原账号密码进行登录（账号：sunyue2020）"
    assert sms.content == EXISTING_TEXT.format(username="sunyue2020")
    assert db.scalar(select(func.count()).select_from(Identity).where(Identity.phone == phone)) == 1


def test_random_passwords_differ_and_mix_letters_and_digits():
    pws = {random_password() for _ in range(50)}
    assert len(pws) == 50
    assert all(any(c.isdigit() for c in p) and any(c.isalpha() for c in p) for p in pws)


def test_accounts_under_lists_the_next_level_in_scope(db, tree):
    assert {a.id for a in changes.accounts_under(db, tree.province)} == {tree.school.id, tree.school2.id}
    assert {a.id for a in changes.accounts_under(db, tree.school)} == {tree.college.id, tree.college_econ.id,
                                                                     tree.counselor.id}
    assert [a.id for a in changes.accounts_under(db, tree.college)] == [tree.counselor.id]
    assert changes.accounts_under(db, tree.counselor) == []


# ------------------------------------------------------------------- CLI
def test_cli_add_ministry(runner, db):
    phone = next_phone()
    result = runner.invoke(args=["accounts", "add-ministry", "--name", "周敏", "--phone", phone])
    assert result.exit_code == 0, result.output
    assert "已添加部级 周敏" in result.output and phone not in result.output
    acc = db.scalar(select(Account).where(Account.active_phone == phone))
    assert acc.level == MINISTRY and acc.unit.kind == MINISTRY
    again = runner.invoke(args=["accounts", "add-ministry", "--name", "周敏", "--phone", phone])
    assert again.exit_code == 1 and "已是教育部的部级账号" in again.output
    bad = runner.invoke(args=["accounts", "add-ministry", "--name", "", "--phone", "123"])
    assert bad.exit_code == 1 and "请填写姓名" in bad.output and "不是11位" in bad.output


def test_ministry_accounts_only_by_cli(db, tree):
    # No account, not even a ministry one, may create a ministry account: only the CLI path does.
    for actor in (tree.ministry, tree.province):
        assert rules._may_create(actor, MINISTRY) == rules.CREATOR_TEXT[MINISTRY]
    assert rules._may_create(None, MINISTRY) is None
    assert rules._may_create(None, PROVINCE) is not None
    assert rules.MANAGED_LEVELS[MINISTRY] == (PROVINCE,)
    assert COUNSELOR not in rules.MANAGED_LEVELS[PROVINCE]


def test_college_limited_to_levels_cannot_touch_other_levels(db, tree, factory):
    limited = factory.staff(COLLEGE, tree.cs, levels="本科")
    master = factory.counselor(tree.cs, study_level="硕士", majors=[tree.cst])
    factory.commit()
    res = changes.delete_account(db, limited, master.phone)
    assert not res.ok and "学历层次（硕士）不在您管理的层次（本科）内" in res.reasons[0]
    assert changes.delete_account(db, limited, tree.counselor.phone).ok  # its 本科 counselor


def test_already_bound_user_gets_its_role_tag_when_the_account_appears(db, tree, factory, run_jobs, simulator):
    openid = simulator.add_user()["openid"]
    phone = next_phone()
    factory.identity(phone, "孙悦", openid=openid)
    factory.follower(openid)
    factory.commit()
    # The rule says whose tag may change; the caller (a handler) queues the tag job.
    res = follow_up.start(rules.add_counselor(db, tree.college, name="孙悦", phone=phone, study_level="本科",
                                              majors="软件工程"))
    assert res.ok and res.follow_ups.tag_openids == [openid]
    run_jobs()
    tagged = simulator.state.get_user(openid)["tagid_list"]
    assert len(tagged) == 1
    assert follow_up.start(changes.delete_account(db, tree.college, phone)).ok
    run_jobs()
    assert simulator.state.get_user(openid)["tagid_list"] == []
