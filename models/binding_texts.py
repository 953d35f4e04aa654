"""The replies of binding (SPEC 2) that say where a user stands: the phone-A outcomes
(账号不存在 case 1 and case 2), success, the role, the password lock. The rules that choose
them are in models/binding.py."""
from __future__ import annotations

from datetime import datetime

from .accounts import Account
from .clock import local_text
from .guess_limits import MAX_PASSWORD_FAILURES
from .privacy import mask_phone, phone_tail


def case1_text(phone: str, bound: bool = False) -> str:
    head = "已绑定登录账号，但" if bound else ""
    return (
        f"{head}账号不存在：没有使用手机号 {mask_phone(phone)} 的平台账号。\n"
        f"处理办法：请联系您的上级管理员（辅导员找院系或学校，院系找学校，学校找省级）"
        f"用手机号 {mask_phone(phone)} 为您创建平台账号，手机号必须完全一致；创建后即可使用，无需重新绑定。\n"
        + ("如果您的平台账号用的是另一个手机号，请回复「解绑」后，用那个手机号重新绑定。" if bound else
           "如果您的平台账号用的是另一个手机号，请改用那个手机号绑定（回复「绑定 手机号」）。")
    )


def case2_text(bound_phone: str, wanted_phone: str | None = None, bound_has_account: bool = False) -> str:
    target = f"手机号 {mask_phone(wanted_phone)}" if wanted_phone else "您的平台账号手机号"
    if bound_has_account:
        head = f"当前微信已绑定另一个登录账号（手机尾号{phone_tail(bound_phone)}），一个微信只能绑定一个账号。\n"
    else:
        head = (f"账号不存在：当前微信已绑定另一个登录账号（手机尾号{phone_tail(bound_phone)}），"
                "该手机号没有平台账号。\n")
    return head + f"处理办法：先回复「解绑」解除现有绑定，再回复「绑定 {wanted_phone or '手机号'}」用{target}重新绑定。"


def success_text(account: Account) -> str:
    unit = account.unit.name if account.unit is not None else ""
    return (f"绑定成功！{account.name}（{account.level_name}{' · ' + unit if unit else ''}）。\n"
            "菜单会在几分钟内切换为您的角色菜单。回复「帮助」查看可用命令。")


def role_name(account: Account | None) -> str:
    if account is None:
        return "无平台账号"
    return "辅导员" if account.is_counselor else f"{account.level_name}工作人员"

def _locked_text(until: datetime) -> str:
    return (f"密码连续输错{MAX_PASSWORD_FAILURES}次，该账号的密码绑定已锁定2小时，"
            f"请于 {local_text(until)}（北京时间）后重试，或改用短信验证码绑定、忘记密码重置。")

