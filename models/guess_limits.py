"""Guess limits that hold under concurrency (SPEC 10): a try is counted before it is compared.

Each function claims one try with a conditional UPDATE (check and count in one statement) and
reads the row back in the same transaction, which still holds the row's write lock, so 30
parallel tries make at most MAX tries: a password locks after 5 wrong ones, a code dies after 5.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, or_, select, update
from sqlalchemy.orm import Session

from .identity import Identity, SmsCode

MAX_PASSWORD_FAILURES = 5
PASSWORD_LOCK = timedelta(hours=2)
MAX_CODE_ATTEMPTS = 5


@dataclass
class PasswordTry:
    allowed: bool               # False: locked (or its tries are all taken right now)
    left: int = 0               # wrong tries left after this one, if it is wrong
    locks: bool = False         # this try was the last: a wrong password leaves the identity locked
    locked_until: datetime | None = None


def claim_password_try(session: Session, identity_id: int, at: datetime) -> PasswordTry:
    """Count one password try for the identity. The fifth try sets the lock in the same step;
    a right password lifts it again (clear_password_failures)."""
    session.commit()  # the claim starts its own transaction: SQLite takes the write lock at once
    reaches = Identity.failed_logins + 1 >= MAX_PASSWORD_FAILURES
    claimed = session.execute(
        update(Identity)
        .where(Identity.id == identity_id,
               or_(Identity.locked_until.is_(None), Identity.locked_until <= at),
               Identity.failed_logins < MAX_PASSWORD_FAILURES)
        # locked_until first: MariaDB evaluates SET left to right, with the values set so far.
        .ordered_values((Identity.locked_until, case((reaches, at + PASSWORD_LOCK), else_=None)),
                        (Identity.failed_logins, case((reaches, 0), else_=Identity.failed_logins + 1)))
        .execution_options(synchronize_session=False)).rowcount
    failed, locked_until = session.execute(
        select(Identity.failed_logins, Identity.locked_until).where(Identity.id == identity_id)).one()
    session.commit()
    if claimed != 1:
        return PasswordTry(False, locked_until=locked_until or at + PASSWORD_LOCK)
    if locked_until is not None and locked_until > at:
        return PasswordTry(True, left=0, locks=True, locked_until=locked_until)
    return PasswordTry(True, left=MAX_PASSWORD_FAILURES - failed)


def clear_password_failures(session: Session, identity_id: int) -> None:
    session.execute(update(Identity).where(Identity.id == identity_id)
                    .values(failed_logins=0, locked_until=None).execution_options(synchronize_session=False))


@dataclass
class CodeTry:
    allowed: bool        # False: the code is used up (too many tries, or used meanwhile)
    left: int = 0        # tries left after this one, if it is wrong
    too_many: bool = False


def claim_code_try(session: Session, code_id: int) -> CodeTry:
    """Count one try of an unused code; the fifth is the last one compared."""
    session.commit()
    claimed = session.execute(
        update(SmsCode)
        .where(SmsCode.id == code_id, SmsCode.used_at.is_(None), SmsCode.attempts < MAX_CODE_ATTEMPTS)
        .values(attempts=SmsCode.attempts + 1)
        .execution_options(synchronize_session=False)).rowcount
    attempts = session.scalar(select(SmsCode.attempts).where(SmsCode.id == code_id))
    session.commit()
    if claimed != 1:
        return CodeTry(False, too_many=(attempts or 0) >= MAX_CODE_ATTEMPTS)
    return CodeTry(True, left=MAX_CODE_ATTEMPTS - attempts)


def use_code(session: Session, code_id: int, at: datetime) -> bool:
    """Mark the code used; False when a parallel request used it first."""
    used = session.execute(update(SmsCode).where(SmsCode.id == code_id, SmsCode.used_at.is_(None))
                           .values(used_at=at).execution_options(synchronize_session=False)).rowcount
    session.commit()
    return used == 1
