"""bench/generate.py writes a consistent data set (counts, unit ancestry, binding), not timing.

The generator writes into the test database's existing (wiped) schema with the
tiny preset, graduates through the real importer.
"""
from __future__ import annotations

from sqlalchemy import func, select

from bench import generate
from models import Account, AccountCohort, Follower, Graduate, Identity, Major, Unit, account_majors
from models.vocab import COLLEGE, COUNSELOR, MINISTRY, PROVINCE, SCHOOL


def test_tiny_preset_is_consistent(app, db, database_url, redis_url, tmp_path):
    preset = generate.PRESETS["tiny"]
    result = generate.generate(database_url, "tiny", seed=7, graduates="importer", quiet=True, fresh=False,
                               redis_url=redis_url, work_dir=tmp_path, app=app)
    assert result["graduates_via"] == "models.importer.import_graduates"
    db.expire_all()

    def count(model, *where):
        return db.scalar(select(func.count()).select_from(model).where(*where))

    assert count(Unit, Unit.kind == MINISTRY) == 1
    assert count(Unit, Unit.kind == PROVINCE) == preset.provinces
    assert count(Unit, Unit.kind == SCHOOL) == preset.schools
    assert count(Unit, Unit.kind == COLLEGE) == preset.colleges
    assert count(Major) == preset.colleges * preset.majors_per_college
    assert count(Account, Account.level == COUNSELOR) == preset.counselors
    assert count(Account, Account.level == MINISTRY) == 1
    assert count(Graduate) == preset.graduates
    # The importer found every unit and major the generator wrote: it created none.
    assert count(Unit) == 1 + preset.provinces + preset.schools + preset.colleges

    # Ancestry as models.units gives it: each unit is its own province/school/college.
    units = {u.id: u for u in db.scalars(select(Unit))}
    for unit in units.values():
        if unit.kind == MINISTRY:
            assert unit.parent_id is None
            continue
        parent = units[unit.parent_id]
        own = {PROVINCE: "province_id", SCHOOL: "school_id", COLLEGE: "college_id"}[unit.kind]
        assert getattr(unit, own) == unit.id
        for column in ("province_id", "school_id", "college_id"):
            if column != own:
                assert getattr(unit, column) == getattr(parent, column), (unit, column)
    for account in db.scalars(select(Account)):
        unit = units[account.unit_id]
        assert (account.province_id, account.school_id, account.college_id) == \
               (unit.province_id, unit.school_id, unit.college_id)
        assert account.active_phone == account.phone and account.identity.phone == account.phone
    for grad in db.scalars(select(Graduate)):
        college = units[grad.college_id]
        assert (grad.province_id, grad.school_id) == (college.province_id, college.school_id)
        assert db.get(Major, grad.major_id).college_id == grad.college_id

    # Counselors: majors of their own college, at least one cohort, most of them bound and following.
    for account_id, major_college, college in db.execute(
            select(account_majors.c.account_id, Major.college_id, Account.college_id)
            .join(Major, Major.id == account_majors.c.major_id)
            .join(Account, Account.id == account_majors.c.account_id)):
        assert major_college == college
    counselors = db.scalars(select(Account.id).where(Account.level == COUNSELOR)).all()
    assert count(AccountCohort, AccountCohort.account_id.in_(counselors)) >= len(counselors)
    bound = count(Identity, Identity.openid.is_not(None))
    assert bound == count(Follower)
    assert bound >= count(Account, Account.level != COUNSELOR) + preset.counselors // 2


def test_same_seed_same_data():
    tree_a = generate.build_units(generate.PRESETS["tiny"])
    tree_b = generate.build_units(generate.PRESETS["tiny"])
    import random

    rows_a = [r for _c, r in generate.graduate_rows(tree_a, generate.PRESETS["tiny"], random.Random(3))]
    rows_b = [r for _c, r in generate.graduate_rows(tree_b, generate.PRESETS["tiny"], random.Random(3))]
    assert rows_a == rows_b and len(rows_a) == generate.PRESETS["tiny"].graduates
