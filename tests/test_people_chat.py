"""Naming a person in staff commands (SPEC 5): a number from the latest 账号 list, a unique name,
or a phone; ambiguous names answer with their candidates and numbers. Through the real webhook."""
from __future__ import annotations

import pytest

from models import Account
from models.vocab import COLLEGE, COUNSELOR

from tests.test_accounts_chat import FULL_PHONE, Org, active
from tests.wechat_client import new_openid


@pytest.fixture
def org(factory, wechat):
    return Org(factory, wechat)


def ask(who: Account, org, text: str) -> str:
    return org.wechat.ask(who.identity.openid, text)


def number_of(listing: str, name: str) -> int:
    line = next(x for x in listing.splitlines() if f" {name} " in x)
    return int(line.split(".", 1)[0])


def test_list_number_names_the_account_on_every_managing_level(org, db, factory):
    # college -> counselor
    listing = ask(org.college, org, "账号")
    n = number_of(listing, org.counselor.name)
    assert "已将辅导员" in ask(org.college, org, f"修改届别 {n} 2026,2027")
    # school -> college account (and counselors, listed after)
    listing = ask(org.school, org, "账号")
    assert org.college.phone in listing and org.counselor.phone in listing
    assert "已删除院级" in ask(org.school, org, f"删除账号 {number_of(listing, org.college.name)}")
    assert active(db, org.college.phone) is None
    # province -> school account
    listing = ask(org.province, org, "账号")
    assert "已删除校级" in ask(org.province, org, f"删除账号 #{number_of(listing, org.school2.name)}")
    # ministry -> province account
    prov_staff = factory.staff("province", org.prov, name="省里人")
    factory.commit()
    listing = ask(org.ministry, org, "账号")
    assert prov_staff.phone in listing
    assert "已删除省级" in ask(org.ministry, org, f"删除账号 第{number_of(listing, '省里人')}个")


def test_a_number_needs_a_list_and_a_stale_number_is_refused(org, db, factory):
    no_list = ask(org.college, org, "删除账号 1")
    assert "请先回复「账号」" in no_list and active(db, org.counselor.phone) is not None
    ask(org.college, org, "账号")
    assert "不在您最近的「账号」列表中（共 1 个）" in ask(org.college, org, "删除账号 2")
    assert "已删除辅导员" in ask(org.college, org, "删除账号 1")
    # The list still holds the deleted account's number: it now names nobody.
    assert "已删除或已不在您的管理范围内" in ask(org.college, org, "删除账号 1")


def test_numbers_are_the_senders_own(org, db):
    ask(org.school, org, "账号")  # the school's list: 1 is a college account
    reply = ask(org.college_mech, org, "删除账号 1")
    assert "请先回复「账号」" in reply
    assert active(db, org.college.phone) is not None


def test_unique_name_works_and_an_ambiguous_one_lists_candidates(org, db, factory):
    assert "已将辅导员" in ask(org.college, org, f"修改届别 {org.counselor.name} 2027")
    twin_a = factory.counselor(org.cs, name="王伟", majors=[org.se])
    twin_b = factory.counselor(org.econ, name="王伟", majors=[org.acc])
    factory.commit()
    school_reply = ask(org.school, org, "删除账号 王伟")
    assert "有 2 个名为“王伟”" in school_reply
    assert twin_a.phone in school_reply and twin_b.phone in school_reply
    assert active(db, twin_a.phone) is not None and active(db, twin_b.phone) is not None
    # The numbers shown are the sender's list now: one of them deletes that one only.
    line = next(x for x in school_reply.splitlines() if twin_b.phone in x)
    assert "已删除辅导员 王伟" in ask(org.school, org, f"删除账号 {line.split('.', 1)[0]}")
    assert active(db, twin_b.phone) is None and active(db, twin_a.phone) is not None
    # The college account sees only its own 王伟: unique for it.
    assert "已删除辅导员 王伟" in ask(org.college, org, "删除账号 王伟")


def test_names_outside_the_senders_reach_are_not_found_and_not_leaked(org, db, factory):
    other = factory.counselor(org.mech, name="李雷", majors=[org.mech_major])
    factory.commit()
    reply = ask(org.college, org, "删除账号 李雷")
    assert "账号不存在" in reply and other.phone[-4:] not in reply and "机械学院" not in reply
    # A level the sender does not manage is not found by name either.
    reply = ask(org.college, org, f"删除账号 {org.school.name}")
    assert "账号不存在" in reply and active(db, org.school.phone) is not None
    near = ask(org.college, org, f"删除账号 {org.counselor.name[:-1]}")
    assert "相近的有：" + org.counselor.name in near
    assert not FULL_PHONE.search(reply)


def test_counselors_cannot_name_anyone(org):
    assert "仅限各级工作人员" in ask(org.counselor, org, f"删除账号 {org.college.name}")


def test_limited_college_account_cannot_pick_other_levels(org, db, factory):
    limited = factory.staff(COLLEGE, org.cs, levels="硕士", openid=new_openid())
    master = factory.counselor(org.cs, name="硕导", study_level="硕士", majors=[org.se])
    factory.commit()
    assert "账号不存在" in ask(limited, org, f"删除账号 {org.counselor.name}")
    assert active(db, org.counselor.phone).level == COUNSELOR
    assert "已删除辅导员 硕导" in ask(limited, org, "删除账号 硕导")
    assert active(db, master.phone) is None

