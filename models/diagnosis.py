"""`诊断`: the four conditions of the phone-A rule for one WeChat user (SPEC 2).

1. the user has a phone A (from the bound identity, a phone the user gives,
   or the phone of its latest binding code);
2. an active platform account has phone A;
3. an identity account has phone A;
4. the openid follows the service account and is bound to that identity.

Each condition is one line with ✔/✘ and, for a ✘, what to do. A user who is
not bound is told how to bind: that is the expected state of a new user.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from .binding import identity_by_phone
from .identity import SmsCode
from .privacy import mask_phone, phone_tail
from .resolution import active_account_by_phone, resolve

OK_MARK, FAIL_MARK, UNKNOWN_MARK = "✔", "✘", "—"

# Overall outcomes.
ALL_OK = "ok"
UNBOUND = "unbound"
CASE1 = "case1"          # phone A has an identity but no platform account
CASE2 = "case2"          # this WeChat is bound to an identity with another phone
NOT_FOLLOWING = "not_following"
OTHER = "other"


@dataclass
class Check:
    number: int
    title: str
    ok: bool | None        # None: cannot be checked before phone A is known
    detail: str
    fix: str = ""

    @property
    def mark(self) -> str:
        return OK_MARK if self.ok else (UNKNOWN_MARK if self.ok is None else FAIL_MARK)

    def line(self) -> str:
        text = f"{self.mark} {self.number}. {self.title}：{self.detail}"
        return text + (f"\n   → {self.fix}" if self.fix and not self.ok else "")


@dataclass
class Diagnosis:
    phone: str | None
    outcome: str
    checks: list[Check] = field(default_factory=list)
    advice: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == ALL_OK

    def text(self) -> str:
        head = "诊断结果（四项都 ✔ 才能使用平台）：" if self.phone or self.outcome != UNBOUND else \
            "诊断结果：您的微信尚未绑定账号。"
        return "\n".join([head, *(c.line() for c in self.checks), self.advice]).strip()


def _latest_code_phone(session: Session, openid: str) -> str | None:
    return session.scalar(select(SmsCode.phone).where(SmsCode.openid == openid)
                          .order_by(SmsCode.created_at.desc(), SmsCode.id.desc()).limit(1))


def diagnose(session: Session, openid: str, phone: str | None = None, following: bool | None = None,
             phone_typed: bool = True) -> Diagnosis:
    """The four conditions for `openid`, about `phone` when given (else the bound identity's).
    `phone_typed=False`: the phone was found, not typed (a username's password page): it is
    shown masked only, and the fixes say 「绑定 手机号」 instead of spelling it out."""
    sender = resolve(session, openid)
    bound = sender.identity
    following = sender.following if following is None else following
    source = "您提供的手机号"
    if not phone and bound is not None:
        phone, source = bound.phone, "来自本微信绑定的登录账号"
    if not phone:
        phone = _latest_code_phone(session, openid)
        source = "您最近申请绑定的手机号"
    checks: list[Check] = []
    if phone is None:
        checks.append(Check(1, "手机号", False, "未知（本微信还没有绑定登录账号）",
                            "回复「绑定 手机号」并回复收到的验证码；或点击底部菜单「辅导员」→「登录绑定」用账号密码登录"))
        checks.append(Check(2, "平台账号", None, "确定手机号后检查（可回复「诊断 手机号」检查某个手机号）"))
        checks.append(Check(3, "登录账号", None, "确定手机号后检查"))
        checks.append(_follow_check(following, bound_ok=False, detail_unbound="微信尚未绑定登录账号",
                                    fix_unbound="按第1项的方法绑定"))
        advice = "完成绑定后，再回复「诊断」复查。"
        return Diagnosis(None, NOT_FOLLOWING if not following else UNBOUND, checks, advice)

    masked = mask_phone(phone)
    spelled = phone if phone_typed or source != "您提供的手机号" else "手机号"
    account = active_account_by_phone(session, phone)
    identity = identity_by_phone(session, phone)
    bound_elsewhere = bound is not None and bound.phone != phone
    checks.append(Check(1, "手机号", True, f"{masked}（{source}）"))

    # Whose account a phone belongs to is shown only to the WeChat bound to that phone.
    proven = bound is not None and bound.phone == phone
    if account is not None and proven:
        unit = account.unit.name if account.unit is not None else ""
        checks.append(Check(2, "平台账号", True, f"{account.name}（{account.level_name}{' · ' + unit if unit else ''}）"))
    elif account is not None:
        checks.append(Check(2, "平台账号", True, f"存在使用 {masked} 的平台账号"))
    else:
        fix = f"请上级管理员用手机号 {masked} 为您创建平台账号（手机号须完全一致）"
        if bound is not None and not bound_elsewhere:
            fix += "；若您的平台账号用的是另一个手机号，请回复「解绑」后用那个手机号重新绑定"
        checks.append(Check(2, "平台账号", False, f"账号不存在：没有使用 {masked} 的平台账号", fix))

    if identity is not None:
        checks.append(Check(3, "登录账号", True,
                            f"存在（用户名 {mask_phone(identity.username)}）" if proven else "存在"))
    elif account is not None:
        checks.append(Check(3, "登录账号", False, f"没有手机号为 {masked} 的登录账号",
                            f"回复「绑定 {spelled}」，验证短信后会自动补建登录账号"))
    else:
        checks.append(Check(3, "登录账号", False, f"没有手机号为 {masked} 的登录账号",
                            "平台账号创建后会自动生成登录账号，并以短信通知登录信息"))

    if bound_elsewhere:
        other_has_account = active_account_by_phone(session, bound.phone) is not None
        prefix = "" if other_has_account else "账号不存在："
        checks.append(Check(4, "关注并绑定", False,
                            f"{prefix}本微信已绑定另一个登录账号（手机尾号{phone_tail(bound.phone)}）",
                            f"回复「解绑」，再回复「绑定 {spelled}」重新绑定"))
    elif bound is None:
        checks.append(_follow_check(following, bound_ok=False, detail_unbound="微信尚未绑定该登录账号",
                                    fix_unbound=f"回复「绑定 {spelled}」并回复验证码，或用「登录绑定」页面账号密码登录"))
    else:
        checks.append(_follow_check(following, bound_ok=True))

    failed = [c.number for c in checks if not c.ok]
    if not failed:
        outcome, advice = ALL_OK, "四项均通过，您可以正常使用平台。回复「帮助」查看可用命令。"
    else:
        advice = "请按 ✘ 项后的提示处理，完成后再回复「诊断」复查。"
        if bound_elsewhere:
            outcome = CASE2
        elif account is None and identity is not None and bound is not None:
            outcome = CASE1
        elif not following:
            outcome = NOT_FOLLOWING
        elif bound is None and account is not None:
            outcome = UNBOUND
        else:
            outcome = CASE1 if account is None else OTHER
    return Diagnosis(phone, outcome, checks, advice)


def _follow_check(following: bool, bound_ok: bool, detail_unbound: str = "", fix_unbound: str = "") -> Check:
    if not following:
        return Check(4, "关注并绑定", False, "未关注公众号",
                     "请关注「国家24365大学生就业服务平台」公众号（取消关注后需重新关注），然后再绑定")
    if not bound_ok:
        return Check(4, "关注并绑定", False, f"已关注公众号，但{detail_unbound}", fix_unbound)
    return Check(4, "关注并绑定", True, "已关注公众号，微信已绑定该登录账号")
