"""Factories for units, accounts, identities and graduates, with sequences.

They write rows directly (the rules under test live in models/ and are
exercised through the webhook); every value that must be unique comes from
a sequence so tests never collide.

An identity's username is never its phone here (`next_username`): an identity made
outside the platform (学信账号-style) has its own username, and a phone can change
while the username stays. Joins that should go through the phone (the phone-A rule:
openid -> identity -> its phone -> account) then fail every test if they use the username.
"""
from __future__ import annotations

import itertools

from sqlalchemy import select

from models import Account, Follower, Graduate, Identity, Major, Unit
from models.units import create_unit
from models.vocab import COLLEGE, COUNSELOR, MINISTRY, PROVINCE, SCHOOL, UNIT_KIND_OF_LEVEL

_seq = itertools.count(1)
PASSWORD = "Passw0rd!"


def next_phone() -> str:
    return f"139{next(_seq) + 10000000:08d}"[:11]


def next_username() -> str:
    return f"xs_user{next(_seq):06d}"


def hash_password(password: str) -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash(password, method="pbkdf2:sha256:1000")


class Factory:
    def __init__(self, session):
        self.session = session

    # -- units ---------------------------------------------------------------
    def ministry(self) -> Unit:
        unit = self.session.scalar(select(Unit).where(Unit.kind == MINISTRY))
        return unit or create_unit(self.session, MINISTRY, "教育部", None)

    def province(self, name: str | None = None) -> Unit:
        return create_unit(self.session, PROVINCE, name or f"省{next(_seq)}", self.ministry())

    def school(self, province: Unit | None = None, name: str | None = None) -> Unit:
        return create_unit(self.session, SCHOOL, name or f"大学{next(_seq)}", province or self.province())

    def college(self, school: Unit | None = None, name: str | None = None) -> Unit:
        return create_unit(self.session, COLLEGE, name or f"学院{next(_seq)}", school or self.school())

    def major(self, college: Unit, name: str | None = None, direction: str = "") -> Major:
        major = Major(college_id=college.id, name=name or f"专业{next(_seq)}", direction=direction)
        self.session.add(major)
        self.session.flush()
        return major

    # -- people --------------------------------------------------------------
    def identity(self, phone: str, name: str = "", openid: str | None = None, password: str = PASSWORD,
                 username: str | None = None) -> Identity:
        identity = Identity(username=username or next_username(), phone=phone, name=name, password_hash=hash_password(password),
                            openid=openid)
        self.session.add(identity)
        self.session.flush()
        return identity

    def follower(self, openid: str, following: bool = True) -> Follower:
        follower = self.session.get(Follower, openid) or Follower(openid=openid)
        follower.following = following
        self.session.add(follower)
        self.session.flush()
        return follower

    def account(self, level: str, unit: Unit, *, name: str | None = None, phone: str | None = None,
                study_level: str | None = None, majors=(), cohorts=(), levels: str | None = None,
                openid: str | None = None, following: bool = True, with_identity: bool = True) -> Account:
        assert unit.kind == UNIT_KIND_OF_LEVEL[level], f"{level} account needs a {UNIT_KIND_OF_LEVEL[level]} unit"
        phone = phone or next_phone()
        account = Account(name=name or f"用户{next(_seq)}", phone=phone, active_phone=phone, level=level,
                          study_level=study_level, levels=levels)
        account.place_in(unit)
        if level == COUNSELOR:
            account.study_level = study_level or "本科"
            account.majors = list(majors)
            account.set_cohorts(cohorts or [2026])
        if with_identity:
            account.identity = self.identity(phone, account.name, openid=openid)
        if openid:
            self.follower(openid, following)
        self.session.add(account)
        self.session.flush()
        return account

    def counselor(self, college: Unit, **kwargs) -> Account:
        if "majors" not in kwargs:
            kwargs["majors"] = [self.major(college)]
        return self.account(COUNSELOR, college, **kwargs)

    def staff(self, level: str, unit: Unit, **kwargs) -> Account:
        return self.account(level, unit, **kwargs)

    def graduate(self, major: Major, *, study_level: str = "本科", cohort: int = 2026, destination: str = "待就业",
                 name: str | None = None, intention: str = "", expectation: str = "", follows_bound: bool = False):
        college = self.session.get(Unit, major.college_id)
        grad = Graduate(student_no=f"S{next(_seq):09d}", name=name or f"学生{next(_seq)}",
                        province_id=college.province_id, school_id=college.school_id, college_id=college.id,
                        major_id=major.id, study_level=study_level, cohort=cohort, destination=destination,
                        intention=intention, expectation=expectation, follows_bound=follows_bound)
        self.session.add(grad)
        self.session.flush()
        return grad

    def commit(self):
        self.session.commit()
