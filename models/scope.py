"""Who manages what (SPEC 1): the one place the unit-scope rule is written down.

Every command and page that reads or changes an account, a task's figures or
a recipient asks these functions; none builds its own filter.
"""
from __future__ import annotations

from sqlalchemy import and_, true

from .accounts import Account
from .vocab import COLLEGE, COUNSELOR, MINISTRY, PROVINCE, SCHOOL

# The levels each level may create, change and delete.
MANAGED_LEVELS = {
    MINISTRY: (PROVINCE,),
    PROVINCE: (SCHOOL,),
    SCHOOL: (COLLEGE, COUNSELOR),
    COLLEGE: (COUNSELOR,),
    COUNSELOR: (),
}


def in_scope_clause(actor: Account, model):
    """A WHERE clause selecting rows of `model` inside the actor's unit.

    `model` is any mapped class with province_id/school_id/college_id columns
    (Account, TaskRecipient, Graduate). A college account limited to some
    学历层次 only sees counselors of those levels.
    """
    level = actor.level
    if level == MINISTRY:
        return true()
    if level == PROVINCE:
        return model.province_id == actor.unit_id
    if level == SCHOOL:
        return model.school_id == actor.unit_id
    clause = model.college_id == actor.unit_id
    if level == COLLEGE and actor.levels and hasattr(model, "study_level"):
        clause = and_(clause, model.study_level.in_(actor.study_levels))
    return clause


def row_in_scope(actor: Account, row) -> bool:
    """The Python twin of in_scope_clause, for one loaded row."""
    level = actor.level
    if level == MINISTRY:
        return True
    if level == PROVINCE:
        return row.province_id == actor.unit_id
    if level == SCHOOL:
        return row.school_id == actor.unit_id
    if row.college_id != actor.unit_id:
        return False
    if level == COLLEGE and actor.levels and getattr(row, "study_level", None):
        return row.study_level in actor.study_levels
    return level == COLLEGE
