"""GET /stats: a counselor's employment figures, the 去向 chart and its graduate list (SPEC 8).

The chart is drawn by the vendored Chart.js (handlers/static/vendor); the list
is filtered and paginated on the server so a college of thousands stays light
on a phone.
"""
from __future__ import annotations

from flask import Blueprint, render_template, request, session

from bot.oauth import openid_required
from models import db
from models.resolution import NO_ACCOUNT, UNBOUND, resolve
from models.statistics import UNFILLED, employment, explain_no_match, graduate_page, graduate_summary, scope_label, top
from models.vocab import DESTINATIONS, NOT_PLACED

bp = Blueprint("pages_stats", __name__)

PER_PAGE = 30


def _int_arg(name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except (TypeError, ValueError):
        return default


@bp.get("/stats")
@openid_required
def stats_page():
    sender = resolve(db.session, session["openid"])
    if sender.status == UNBOUND:
        return render_template("stats/unbound.html"), 200
    if sender.status == NO_ACCOUNT:
        return render_template("stats/refused.html", reason="no_account",
                               tail=sender.identity.phone[-4:]), 403
    account = sender.account
    if not account.is_counselor:
        return render_template("stats/refused.html", reason="staff", account=account), 403

    q = request.args.get("q", "").strip()[:50]
    destination = request.args.get("dest", "")
    if destination not in DESTINATIONS:
        destination = ""
    figures = employment(db.session, account)
    listing = graduate_page(db.session, account, q=q, destination=destination,
                            page=_int_arg("page", 1), per_page=PER_PAGE)
    summary = graduate_summary(db.session, account) if figures.graduates else None
    return render_template(
        "stats/index.html",
        account=account,
        scope=scope_label(account, max_majors=10),
        figures=figures,
        summary=summary,
        top=top,
        unfilled=UNFILLED,
        why=None if figures.graduates else explain_no_match(db.session, account),
        chart={"labels": list(figures.by_destination),
               "counts": list(figures.by_destination.values()),
               "placed": [dest not in NOT_PLACED for dest in figures.by_destination]},
        listing=listing,
        q=q,
        destination=destination,
        destinations=DESTINATIONS,
    )
