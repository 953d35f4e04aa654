"""Binding in chat (SPEC 2): `绑定 手机`, the 6-digit code reply, `解绑`, `诊断`
(text and the DIAGNOSE button) and the BIND button."""
from __future__ import annotations

from flask import current_app

from bot.context import current_sender, forget_sender
from jobs.tags import resync_if_needed
from models import db
from models.binding import request_bind_code, unbind, verify_bind_code
from models.binding_texts import role_name
from models.diagnosis import diagnose

from . import follow_up
from .common import bind_instructions, no_account_text


def login_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/auth/login"


def bind_click_text(sender) -> str:
    if sender.identity is None:
        return bind_instructions()
    if sender.account is None:
        return no_account_text(sender)
    return (f"您的微信已绑定：{sender.account.name}（{role_name(sender.account)}）。\n"
            f"如需换绑其他账号，请先回复「解绑」，再打开 {login_url()} 登录绑定。")


def my_info_text(sender) -> str:
    """`我的信息`: the sender's own account as the platform shows it, and where to change the password."""
    account = sender.account
    lines = ["我的信息", f"姓名：{account.name}（{account.level_name}）", f"单位：{account.unit.full_name}",
             f"登录账号：{account.phone}（即手机号）"]
    if account.is_counselor:
        majors = "、".join(m.label for m in account.majors) or "未设置"
        cohorts = "、".join(f"{c}届" for c in account.cohorts) or "未设置"
        lines += [f"层次：{account.study_level or '未设置'}", f"负责专业：{majors}", f"负责届别：{cohorts}",
                  "专业、届别有误请联系上级管理员修改。"]
    elif account.levels:
        lines.append(f"层次：{'、'.join(account.study_levels)}")
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    lines.append(f"修改密码：{base}/auth/forgot （用手机验证码设置新密码）")
    return "\n".join(lines)


def my_info(message, sender, match):
    return my_info_text(sender)


def tag_recheck(message):
    """Not a reply: keeps the sender's role tag (and so its menu) in step with its account."""
    resync_if_needed(current_sender(message.source))
    return None


def bind_command(message, sender, match):
    phone = match.group(1).strip()
    if not phone:
        return ("请在「绑定」后加上您平台账号的手机号，如：绑定 13800000000\n"
                f"也可以打开 {login_url()} 用账号密码登录绑定。")
    deferred = current_app.config["SMS_BACKEND"] != "console"
    outcome = follow_up.start(request_bind_code(db.session, message.source, phone, deferred=deferred))
    if outcome.kind == "sent":
        return outcome.message + "请直接回复短信中的6位验证码完成绑定。"
    return outcome.message


def code_reply(message, sender, match):
    outcome = verify_bind_code(db.session, message.source, match.group(0))
    if outcome is None:
        return None  # no code pending for this user: not a binding reply
    follow_up.start(outcome)
    forget_sender()
    return outcome.message


def unbind_command(message, sender, match):
    outcome = follow_up.start(unbind(db.session, message.source))
    forget_sender()
    if not outcome.ok:
        return outcome.message + "\n" + bind_instructions()
    return outcome.message


def diagnose_command(message, sender, match):
    # A message reached us, so the user follows right now.
    return diagnose(db.session, message.source, phone=match.group(1), following=True).text()


def diagnose_click(message, sender, match):
    return diagnose(db.session, message.source, following=True).text()


def bind_click(message, sender, match):
    return bind_click_text(sender)
