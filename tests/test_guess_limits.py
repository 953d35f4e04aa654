"""Limits on guesses and sends under concurrency (issue 14, SPEC 10), on SQLite and MariaDB.

30 wrong passwords and 40 wrong codes arrive at once, each in its own thread, app context and
database session: a try is counted before it is compared, so exactly 5 are compared.
"""
from __future__ import annotations

import logging
import re
import threading
from collections import Counter

from sqlalchemy import select

from models import Identity
from models.identity import SmsCode
from tests.reliability import record_figures
from tests.test_binding import travel  # noqa: F401 - the time-travel fixture
from tests.wechat_client import new_openid

PASSWORD_TRIES = 30
CODE_TRIES = 40


def in_parallel(app, n: int, work) -> list:
    """Run work(i) in n threads released together; each has its own app context (own session)."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        with app.app_context():
            barrier.wait(timeout=30)
            results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a try never finished"
    return results


def test_parallel_wrong_passwords_lock_after_five(app, factory, db, caplog):
    from models.binding import bind_with_password

    counselor = factory.counselor(factory.college())
    factory.commit()
    caplog.set_level(logging.INFO, logger="models.binding")
    outcomes = in_parallel(app, PASSWORD_TRIES,
                           lambda i: bind_with_password(__import__("models").db.session, new_openid(),
                                                        counselor.phone, f"wrong-{i}"))
    kinds = Counter(o.kind for o in outcomes)
    lefts = sorted(int(m.group(1)) for o in outcomes if (m := re.search(r"还可尝试(\d)次", o.message)))
    locks = [r for r in caplog.records if "locked for 2 h" in r.getMessage()]
    compared = len(lefts) + len(locks)
    record_figures("parallel_passwords", tries=PASSWORD_TRIES, compared=compared, kinds=dict(kinds))
    assert lefts == [1, 2, 3, 4], lefts
    assert len(locks) == 1 and compared == 5
    assert kinds == {"wrong_password": 4, "locked": PASSWORD_TRIES - 4}
    db.expire_all()
    identity = db.scalar(select(Identity).where(Identity.phone == counselor.phone))
    assert identity.locked_until is not None
    # Locked: even the right password is refused now.
    assert bind_with_password(db, new_openid(), counselor.phone, "Passw0rd!").kind == "locked"


def test_parallel_wrong_codes_kill_the_code_after_five(app, factory, db):
    from models import binding

    counselor = factory.counselor(factory.college())
    factory.commit()
    openid = new_openid()
    assert binding.request_bind_code(db, openid, counselor.phone).kind == "sent"
    outcomes = in_parallel(app, CODE_TRIES,
                           lambda i: binding.verify_bind_code(__import__("models").db.session, openid, "000000"))
    replies = [o.message for o in outcomes if o is not None]
    lefts = sorted(int(m.group(1)) for r in replies if (m := re.search(r"还可尝试(\d)次", r)))
    db.expire_all()
    row = db.scalar(select(SmsCode).where(SmsCode.phone == counselor.phone))
    record_figures("parallel_codes", tries=CODE_TRIES, compared=row.attempts, lefts=lefts)
    assert lefts == [1, 2, 3, 4], lefts
    assert row.attempts == 5 and row.used_at is not None
    assert all("还可尝试" in r or "已失效" in r for r in replies), Counter(replies)
    assert binding.verify_bind_code(db, openid, "000000") is None  # nothing pending any more


def test_one_wechat_user_reaches_three_phones_at_most(app, factory, db, travel):
    from models import binding
    from models.send_limits import MAX_PHONES, PHONES_MESSAGE

    college = factory.college()
    people = [factory.counselor(college) for _ in range(MAX_PHONES + 2)]
    factory.commit()
    stranger, owner = new_openid(), new_openid()
    for person in people[:MAX_PHONES]:
        assert binding.request_bind_code(db, stranger, person.phone).kind == "sent"
    refused = binding.request_bind_code(db, stranger, people[MAX_PHONES].phone)
    assert refused.kind == "phones" and refused.message == PHONES_MESSAGE and "3个不同手机号" in refused.message
    # The fourth person's allowance is untouched: he binds at once.
    assert binding.request_bind_code(db, owner, people[MAX_PHONES].phone).kind == "sent"
    # A phone already reached stays reachable (a resend), after the 60 s gap.
    travel.advance(seconds=61)
    assert binding.request_bind_code(db, stranger, people[0].phone).kind == "sent"
    travel.advance(hours=24, seconds=1)
    assert binding.request_bind_code(db, stranger, people[MAX_PHONES + 1].phone).kind == "sent"


def test_parallel_requests_cannot_pass_the_phone_limit(app, factory, db):
    from models import binding

    college = factory.college()
    phones = [factory.counselor(college).phone for _ in range(8)]
    factory.commit()
    stranger = new_openid()
    outcomes = in_parallel(app, len(phones),
                           lambda i: binding.request_bind_code(__import__("models").db.session, stranger, phones[i]))
    kinds = Counter(o.kind for o in outcomes)
    assert kinds == {"sent": 3, "phones": len(phones) - 3}, kinds
    db.expire_all()
    assert len(set(db.scalars(select(SmsCode.phone).where(SmsCode.openid == stranger)))) == 3
