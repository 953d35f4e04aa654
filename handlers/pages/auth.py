"""The login/binding page (SPEC 2, 8), reached through WeChat OAuth.

Password binding (username or phone + password), SMS binding and 忘记密码.
A failure shows the phone-A diagnosis for the phone involved. Every form
carries a per-session token (CSRF); a POST without a session goes back
through OAuth to the login page rather than failing.
"""
from __future__ import annotations

import functools

from flask import Blueprint, redirect, render_template, request, session, url_for

from bot.followers import refresh_following
from bot.oauth import authorize_redirect, openid_required
from models import db
from models.binding import (bind_with_password, replace_initial_password, request_bind_code, request_reset_code,
                            reset_password, unbind, verify_bind_code)
from models.binding_texts import role_name
from models.diagnosis import diagnose
from models.identity import Identity
from models.privacy import is_mobile, mask_phone
from models.resolution import resolve

from .. import follow_up
from .csrf import csrf_refusal

bp = Blueprint("pages_auth", __name__, url_prefix="/auth")

def form_post(view):
    """POST views: a session (else back through OAuth to the login page) and a valid CSRF token."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not session.get("openid"):
            return authorize_redirect(url_for("pages_auth.login"))
        return csrf_refusal("页面已过期，请返回重新打开登录页面后再提交。") or view(*args, **kwargs)

    return wrapper


# Longest value each form field can meaningfully hold: longer input is cut before any lookup or
# matching (SPEC 10: parsing linear in the input), and the cut value then fails its own check.
FIELD_CAPS = {"login": 64, "password": 128, "password2": 128, "phone": 32, "code": 16}


def form_value(name: str) -> str:
    return request.form.get(name, "")[:FIELD_CAPS[name]]


def _openid() -> str:
    return session["openid"]


def _diagnosis_for(phone: str | None, typed: bool = True):
    """The diagnosis about `phone`; typed=False when the visitor did not type it (a username)."""
    session_db = db.session
    following = refresh_following(session_db, _openid())
    return diagnose(session_db, _openid(), phone=phone if phone and is_mobile(phone) else None, following=following,
                    phone_typed=typed)


def _render_login(error: str | None = None, diagnosis=None, login_value: str = "", sms_phone: str = "",
                  status: int = 200):
    sender = resolve(db.session, _openid())
    return render_template("auth/login.html", sender=sender, role=role_name(sender.account), error=error,
                           diagnosis=diagnosis, login_value=login_value, sms_phone=sms_phone,
                           mask_phone=mask_phone), status


@bp.get("/login")
@openid_required
def login():
    return _render_login()


@bp.post("/login")
@form_post
def login_password():
    login_value = form_value("login").strip()
    outcome = follow_up.start(bind_with_password(db.session, _openid(), login_value, form_value("password")))
    if outcome.ok:
        identity = db.session.get(Identity, outcome.identity_id)
        if identity is not None and identity.must_change_password:
            # Signed in with the password of the credentials SMS: it goes now (SPEC 8).
            return redirect(url_for("pages_auth.new_password"))
        return redirect(url_for("pages_auth.done"))
    return _render_login(outcome.message, _diagnosis_for(outcome.phone, typed=login_value == outcome.phone),
                         login_value=login_value, status=200)


@bp.post("/sms/send")
@form_post
def sms_send():
    phone = form_value("phone").strip()
    outcome = follow_up.start(request_bind_code(db.session, _openid(), phone))
    if outcome.kind == "sent":
        return render_template("auth/sms.html", phone=outcome.phone, masked=mask_phone(outcome.phone),
                               notice=outcome.message, error=None)
    diagnosis = _diagnosis_for(outcome.phone) if outcome.kind in ("case1", "case2", "no_account") else None
    return _render_login(outcome.message, diagnosis, sms_phone=phone)


@bp.post("/sms/verify")
@form_post
def sms_verify():
    phone = form_value("phone").strip()
    outcome = verify_bind_code(db.session, _openid(), form_value("code"))
    if outcome is None:
        return _render_login("没有待验证的验证码（可能已使用或已过期），请重新获取。", sms_phone=phone)
    follow_up.start(outcome)
    if outcome.ok:
        return redirect(url_for("pages_auth.done"))
    if outcome.kind == "wrong_code" and "还可尝试" in outcome.message:  # the code still works: retype it
        return render_template("auth/sms.html", phone=phone, masked=mask_phone(phone), notice=None,
                               error=outcome.message)
    diagnosis = _diagnosis_for(outcome.phone) if outcome.kind in ("case1", "case2") else None
    return _render_login(outcome.message, diagnosis, sms_phone=phone)


@bp.get("/done")
@openid_required
def done():
    sender = resolve(db.session, _openid())
    if sender.identity is None:
        return redirect(url_for("pages_auth.login"))
    diagnosis = None if sender.account is not None else _diagnosis_for(None)
    return render_template("auth/done.html", sender=sender, role=role_name(sender.account), diagnosis=diagnosis,
                           mask_phone=mask_phone)


@bp.post("/unbind")
@form_post
def unbind_view():
    outcome = follow_up.start(unbind(db.session, _openid()))
    return render_template("auth/unbound.html", message=outcome.message)


@bp.get("/password")
@openid_required
def new_password():
    sender = resolve(db.session, _openid())
    if sender.identity is None or not sender.identity.must_change_password:
        return redirect(url_for("pages_auth.done"))
    return render_template("auth/password.html", error=None)


@bp.post("/password")
@form_post
def new_password_save():
    password, again = form_value("password"), form_value("password2")
    if password != again:
        return render_template("auth/password.html", error="两次输入的新密码不一致。")
    outcome = replace_initial_password(db.session, _openid(), password)
    if not outcome.ok:
        return render_template("auth/password.html", error=outcome.message)
    return redirect(url_for("pages_auth.done"))


@bp.get("/forgot")
@openid_required
def forgot():
    return render_template("auth/forgot.html", step="phone", phone="", error=None, notice=None)


@bp.post("/forgot/send")
@form_post
def forgot_send():
    phone = form_value("phone").strip()
    outcome = follow_up.start(request_reset_code(db.session, phone, openid=_openid()))
    if outcome.kind != "sent":
        return render_template("auth/forgot.html", step="phone", phone=phone, error=outcome.message, notice=None)
    return render_template("auth/forgot.html", step="reset", phone=outcome.phone, error=None, notice=outcome.message)


@bp.post("/forgot/reset")
@form_post
def forgot_reset():
    phone = form_value("phone").strip()
    password, again = form_value("password"), form_value("password2")
    if password != again:
        return render_template("auth/forgot.html", step="reset", phone=phone, error="两次输入的新密码不一致。",
                               notice=None)
    outcome = reset_password(db.session, phone, form_value("code"), password)
    if not outcome.ok:
        # A weak password or a mistyped code can be fixed on the same form; anything else needs a new code.
        can_retry = outcome.kind == "weak_password" or (outcome.kind == "wrong_code" and "还可尝试" in outcome.message)
        step = "reset" if can_retry else "phone"
        return render_template("auth/forgot.html", step=step, phone=phone, error=outcome.message, notice=None)
    return render_template("auth/reset_done.html", message=outcome.message)


@bp.get("/")
def index():
    return redirect(url_for("pages_auth.login"))

