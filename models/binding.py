"""Binding a WeChat openid to an identity account (SPEC 2).

Two ways in: a 6-digit SMS code (chat or login page) and username/phone +
password (login page). Both end in `_bind()`, which keeps "one openid, one
identity" and says which of the phone-A outcomes the user is in: bound and
found, 账号不存在 case 1 (no platform account has the phone) or case 2 (this
WeChat is already bound to another identity).

Every time-dependent rule reads `clock()` (models/clock.py, bound here under the
same name) at call time, so tests can travel in time by replacing it
(monkeypatch models.binding.clock).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .binding_texts import _locked_text, case1_text, case2_text, role_name, success_text
from .guess_limits import (MAX_CODE_ATTEMPTS, MAX_PASSWORD_FAILURES, PASSWORD_LOCK, claim_code_try, claim_password_try,
                           clear_password_failures, use_code)
from .clock import clock
from .follow_ups import CodeSms, FollowUps
from .identity import Identity, SmsCode, check_password, hash_password
from .identity_accounts import link_identity
from .sms import SmsError, queue_sms, send_sms
from .privacy import is_mobile, mask_phone, phone_tail
from .resolution import active_account_by_phone
from .send_limits import CAP_MESSAGE, RESEND_GAP, claim_send
from .vocab import SMS_SIGNATURE

log = logging.getLogger(__name__)

PURPOSE_BIND, PURPOSE_RESET = "bind", "reset"
CODE_TTL = timedelta(minutes=5)
# A code reply is "pending" for this long after it was sent (expired ones get "已过期").
PENDING_WINDOW = timedelta(hours=1)
PASSWORD_INPUT_MAX = 128



@dataclass
class Outcome:
    """What a binding step did, with the reply to show (chat or page)."""

    ok: bool
    kind: str
    message: str
    phone: str | None = None
    identity_id: int | None = None
    retry_at: datetime | None = None
    changed_openids: list[str] = field(default_factory=list)
    follow_ups: FollowUps = field(default_factory=FollowUps)  # started by the caller (handlers/follow_up.py)


# -- lookups ----------------------------------------------------------------------
def identity_by_phone(session: Session, phone: str) -> Identity | None:
    return session.scalar(select(Identity).where(Identity.phone == phone))


def identity_by_login(session: Session, login: str) -> Identity | None:
    login = (login or "").strip()
    if not login:
        return None
    return session.scalar(select(Identity).where(or_(Identity.username == login, Identity.phone == login)))


def identity_of_openid(session: Session, openid: str) -> Identity | None:
    return session.scalar(select(Identity).where(Identity.openid == openid))


def identity_for_phone(session: Session, phone: str) -> Identity | None:
    """The identity with this phone; created for an active account that lacks one.

    Accounts normally create their identity (SPEC 2); this repairs an account
    made before that, so its owner can still bind by SMS or reset a password
    (the random initial password is not sent: binding or 忘记密码 replace it).
    """
    identity = identity_by_phone(session, phone)
    if identity is not None:
        return identity
    account = active_account_by_phone(session, phone)
    if account is None:
        return None
    log.info("identity created for account %s that had none", account.id)
    return link_identity(session, account).identity


# -- SMS codes ----------------------------------------------------------------------
def _code_hash(purpose: str, phone: str, code: str) -> str:
    key = (current_app.config.get("SECRET_KEY") or "fdy").encode()
    return hmac.new(key, f"{purpose}:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def sms_content(purpose: str, code: str) -> str:
    what = "绑定微信" if purpose == PURPOSE_BIND else "重置密码"
    return (f"{SMS_SIGNATURE}验证码 {code}，5分钟内有效，用于{what}。"
            "请勿告诉他人；如非本人操作，请忽略本短信。")


def _next_code_hint(session: Session, phone: str, at: datetime) -> str:
    """When a new code can be asked for, so that asking right away is not answered '过于频繁'."""
    last = session.scalar(select(func.max(SmsCode.created_at)).where(SmsCode.phone == phone))
    if last is not None and at - last < RESEND_GAP:
        return f"请 {int((RESEND_GAP - (at - last)).total_seconds()) + 1} 秒后重新获取验证码。"
    return "请重新获取验证码。"


def _issue_code(session: Session, phone: str, purpose: str, openid: str | None, deferred: bool) -> Outcome:
    """Create, store (hash only) and send a code; the newest code replaces older ones."""
    at = clock()
    refusal = claim_send(session, openid, phone, at, member=secrets.token_hex(8))
    if refusal is not None:
        return Outcome(False, refusal.kind, refusal.message, phone=phone)
    code = f"{secrets.randbelow(10 ** 6):06d}"
    row = SmsCode(phone=phone, purpose=purpose, openid=openid, code_hash=_code_hash(purpose, phone, code),
                  created_at=at, expires_at=at + CODE_TTL)
    session.add(row)
    content = sms_content(purpose, code)
    follow_ups = FollowUps()
    if deferred:
        outbox = queue_sms(session, phone, content, secret=code)
        session.commit()
        follow_ups.code_sms = CodeSms(row.id, outbox.id)  # ids only: the code is in no job argument
    else:
        session.commit()
        try:
            send_sms(phone, content, secret=code)
        except SmsError:
            session.delete(row)
            session.commit()
            return Outcome(False, "sms_failed", "短信发送失败，请稍后重试，或使用账号密码绑定。", phone=phone)
    # Older codes stop working once the newer one is on its way.
    session.execute(update(SmsCode)
                    .where(SmsCode.phone == phone, SmsCode.purpose == purpose, SmsCode.used_at.is_(None),
                           SmsCode.id != row.id)
                    .values(used_at=at))
    session.commit()
    return Outcome(True, "sent", f"验证码已发送至 {mask_phone(phone)}，5分钟内有效。", phone=phone,
                   follow_ups=follow_ups)


def _check_code(session: Session, row: SmsCode, code: str, at: datetime) -> Outcome | None:
    """None when `code` is right (the row is consumed); else why not. The try is counted
    before the comparison (models/guess_limits.py): parallel guesses get 5 tries in all."""
    if at > row.expires_at:
        use_code(session, row.id, at)
        return Outcome(False, "expired", "验证码已过期（有效期5分钟），请重新获取验证码。", phone=row.phone)
    phone, purpose = row.phone, row.purpose
    attempt = claim_code_try(session, row.id)
    if not attempt.allowed:
        if attempt.too_many:
            return Outcome(False, "wrong_code", "验证码错误次数过多，该验证码已失效。" + _next_code_hint(session, phone, at),
                           phone=phone)
        return Outcome(False, "used", "验证码已使用或已失效，请重新获取验证码。", phone=phone)
    if not hmac.compare_digest(row.code_hash, _code_hash(purpose, phone, (code or "").strip()[:16])):
        if attempt.left <= 0:
            use_code(session, row.id, at)
            return Outcome(False, "wrong_code", "验证码错误次数过多，该验证码已失效。" + _next_code_hint(session, phone, at),
                           phone=phone)
        return Outcome(False, "wrong_code", f"验证码不正确，请核对短信中的6位数字（还可尝试{attempt.left}次）。",
                       phone=phone)
    if not use_code(session, row.id, at):
        return Outcome(False, "used", "验证码已使用或已失效，请重新获取验证码。", phone=phone)
    return None


def request_bind_code(session: Session, openid: str, phone: str, deferred: bool = False) -> Outcome:
    """`绑定 手机` / the page's SMS form: send a binding code to `phone` for `openid`."""
    phone = "".join(ch for ch in (phone or "") if ch.isdigit())
    if not is_mobile(phone):
        return Outcome(False, "invalid_phone", "手机号格式不正确，请输入11位手机号，如：绑定 13800000000")
    current = identity_of_openid(session, openid)
    if current is not None:
        if current.phone == phone:
            account = active_account_by_phone(session, phone)
            if account is None:
                return Outcome(False, "no_account", case1_text(phone, bound=True), phone=phone)
            return Outcome(False, "already", f"您的微信已绑定该手机号的账号：{account.name}（{role_name(account)}），无需重复绑定。",
                           phone=phone)
        return Outcome(False, "case2", case2_text(current.phone, phone,
                                                  active_account_by_phone(session, current.phone) is not None),
                       phone=phone)
    identity = identity_for_phone(session, phone)
    if identity is None:
        session.rollback()
        return Outcome(False, "case1", case1_text(phone), phone=phone)
    session.commit()  # keep a repaired identity
    return _issue_code(session, phone, PURPOSE_BIND, openid, deferred)


def pending_bind_code(session: Session, openid: str) -> SmsCode | None:
    at = clock()
    return session.scalar(
        select(SmsCode)
        .where(SmsCode.openid == openid, SmsCode.purpose == PURPOSE_BIND, SmsCode.used_at.is_(None),
               SmsCode.created_at > at - PENDING_WINDOW)
        .order_by(SmsCode.created_at.desc(), SmsCode.id.desc())
        .limit(1))


def verify_bind_code(session: Session, openid: str, code: str) -> Outcome | None:
    """The 6-digit reply. None when no code is pending for this openid."""
    row = pending_bind_code(session, openid)
    if row is None:
        return None
    refusal = _check_code(session, row, code, clock())
    if refusal is not None:
        return refusal
    identity = identity_for_phone(session, row.phone)
    if identity is None:  # the account was deleted meanwhile
        session.commit()
        return Outcome(False, "case1", case1_text(row.phone), phone=row.phone)
    return _bind(session, openid, identity)


# -- password -----------------------------------------------------------------------

def bind_with_password(session: Session, openid: str, login: str, password: str) -> Outcome:
    """Login page: username or phone + password. 5 wrong in a row lock for 2 hours."""
    at = clock()
    identity = identity_by_login(session, login)
    if identity is None:
        login_digits = (login or "").strip()
        identity = identity_for_phone(session, login_digits) if is_mobile(login_digits) else None
        if identity is None:
            session.rollback()
            phone = login_digits if is_mobile(login_digits) else None
            return Outcome(False, "not_found", "账号不存在：没有找到该用户名或手机号的登录账号，请核对后重试。",
                           phone=phone)
        session.commit()
    identity_id, phone = identity.id, identity.phone
    attempt = claim_password_try(session, identity_id, at)
    if not attempt.allowed:
        return Outcome(False, "locked", _locked_text(attempt.locked_until), phone=phone,
                       identity_id=identity_id, retry_at=attempt.locked_until)
    identity = session.get(Identity, identity_id)
    if not check_password(identity, (password or "")[:PASSWORD_INPUT_MAX]):
        if attempt.locks:
            log.info("password binding of identity %s locked for 2 h", identity_id)
            return Outcome(False, "locked", _locked_text(attempt.locked_until), phone=phone,
                           identity_id=identity_id, retry_at=attempt.locked_until)
        return Outcome(False, "wrong_password",
                       f"密码错误，还可尝试{attempt.left}次（连续输错{MAX_PASSWORD_FAILURES}次将锁定2小时）。",
                       phone=phone, identity_id=identity_id)
    clear_password_failures(session, identity_id)
    session.commit()
    session.refresh(identity)
    return _bind(session, openid, identity)


# -- 忘记密码 ---------------------------------------------------------------------------
def request_reset_code(session: Session, phone: str, openid: str | None = None) -> Outcome:
    phone = "".join(ch for ch in (phone or "") if ch.isdigit())
    if not is_mobile(phone):
        return Outcome(False, "invalid_phone", "手机号格式不正确，请输入11位手机号。")
    identity = identity_for_phone(session, phone)
    if identity is None:
        session.rollback()
        return Outcome(False, "not_found", "账号不存在：没有使用该手机号的登录账号。" + case1_text(phone).split("\n", 1)[1],
                       phone=phone)
    session.commit()
    return _issue_code(session, phone, PURPOSE_RESET, openid, deferred=False)


def password_problem(password: str) -> str | None:
    if len(password or "") < 8 or len(password) > 64:
        return "新密码长度须为8至64位。"
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        return "新密码须同时包含字母和数字。"
    return None


def reset_password(session: Session, phone: str, code: str, new_password: str) -> Outcome:
    phone = "".join(ch for ch in (phone or "") if ch.isdigit())
    problem = password_problem(new_password)
    if problem:
        return Outcome(False, "weak_password", problem, phone=phone)
    at = clock()
    row = session.scalar(
        select(SmsCode)
        .where(SmsCode.phone == phone, SmsCode.purpose == PURPOSE_RESET, SmsCode.used_at.is_(None))
        .order_by(SmsCode.created_at.desc(), SmsCode.id.desc())
        .limit(1))
    if row is None:
        return Outcome(False, "no_code", "请先获取验证码（验证码已使用或已失效）。", phone=phone)
    refusal = _check_code(session, row, code, at)
    if refusal is not None:
        return refusal
    identity = identity_by_phone(session, phone)
    if identity is None:
        return Outcome(False, "not_found", "账号不存在：没有使用该手机号的登录账号。", phone=phone)
    identity.password_hash = hash_password(new_password)
    identity.failed_logins = 0
    identity.locked_until = None
    identity.must_change_password = False
    session.commit()
    log.info("password of identity %s reset by SMS code", identity.id)
    return Outcome(True, "reset", f"密码已重置，请用用户名 {mask_phone(identity.username)} 或手机号和新密码登录绑定。",
                   phone=phone, identity_id=identity.id)


def replace_initial_password(session: Session, openid: str, new_password: str) -> Outcome:
    """The first page login's new password, for the identity bound to `openid`."""
    identity = identity_of_openid(session, openid)
    if identity is None:
        return Outcome(False, "not_bound", "请先登录绑定。")
    problem = password_problem(new_password)
    if problem:
        return Outcome(False, "weak_password", problem)
    if check_password(identity, new_password):
        return Outcome(False, "weak_password", "新密码不能与短信中的初始密码相同。")
    identity.password_hash = hash_password(new_password)
    identity.must_change_password = False
    session.commit()
    log.info("initial password of identity %s replaced", identity.id)
    return Outcome(True, "changed", "密码已修改，以后请用新密码登录。", identity_id=identity.id)


# -- bind / unbind ----------------------------------------------------------------------
def _bind(session: Session, openid: str, identity: Identity) -> Outcome:
    """Bind `openid` to `identity`: one openid, one identity, both ways."""
    current = identity_of_openid(session, openid)
    if current is not None and current.id != identity.id:
        has_account = active_account_by_phone(session, current.phone) is not None
        return Outcome(False, "case2", case2_text(current.phone, identity.phone, has_account),
                       phone=identity.phone, identity_id=identity.id)
    changed = [openid]
    # The identity's owner just proved it (code or password): a previous WeChat lets go.
    if identity.openid and identity.openid != openid:
        changed.append(identity.openid)
    identity.openid = openid
    identity.bound_at = clock()
    try:
        session.commit()
    except IntegrityError:  # a concurrent binding of the same openid won
        session.rollback()
        return Outcome(False, "conflict", "绑定未完成：该微信刚刚绑定了其他账号，请回复「诊断」查看。",
                       phone=identity.phone)
    follow_ups = FollowUps(tag_openids=list(changed), catch_up_openids=[openid])
    account = active_account_by_phone(session, identity.phone)
    moved = "\n（该账号原先绑定的另一个微信已自动解绑。）" if len(changed) > 1 else ""
    if account is None:
        return Outcome(True, "no_account", case1_text(identity.phone, bound=True) + moved, phone=identity.phone,
                       identity_id=identity.id, changed_openids=changed, follow_ups=follow_ups)
    return Outcome(True, "bound", success_text(account) + moved, phone=identity.phone, identity_id=identity.id,
                   changed_openids=changed, follow_ups=follow_ups)


def unbind(session: Session, openid: str) -> Outcome:
    identity = identity_of_openid(session, openid)
    if identity is None:
        return Outcome(False, "not_bound", "您的微信没有绑定任何账号，无需解绑。")
    phone = identity.phone
    identity.openid = None
    identity.bound_at = None
    session.commit()
    return Outcome(True, "unbound",
                   f"已解除微信与登录账号（手机尾号{phone_tail(phone)}）的绑定。\n"
                   "重新绑定：回复「绑定 手机号」，或点击底部菜单「辅导员」→「登录绑定」用账号密码登录。", phone=phone,
                   changed_openids=[openid], follow_ups=FollowUps(tag_openids=[openid]))
