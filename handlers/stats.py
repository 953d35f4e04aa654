"""`进展` and `毕业生`: a counselor's employment statistics in chat (SPEC 4, 6, 9.5).

Employment data is for counselors only (FAQ 3): staff asking get told so and
pointed at what they do have (任务, 进度 N).
"""
from __future__ import annotations

from urllib.parse import quote

from flask import current_app

from bot.freshness import StampedCache
from models import db
from models.changes import GRADUATES, PEOPLE
from models.resolution import Sender
from models.text import clip
from models.vocab import COUNSELOR
from models.statistics import (UNFILLED, employment, explain_no_match, graduate_page, graduate_summary,
                               scope_label, top)


STAFF_REFUSAL = (
    "就业统计仅向辅导员提供（按其负责的院系、层次、专业和届别统计），工作人员账号不提供。\n"
    "督办工作请回复「任务」查看任务，或「进度 任务编号」查看完成情况。"
)
MAX_LOOKUP = 5


# A counselor's 进展 reply, per account, until a graduate or the account's scope changes
# anywhere (bot/freshness.py): the aggregate over its graduates is the costliest common reply.
_progress_replies = StampedCache((PEOPLE, GRADUATES))


def stats_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/stats"


def progress_text(sender: Sender) -> str:
    if sender.account_level != COUNSELOR:
        return STAFF_REFUSAL
    # The account joins the session only when the reply has to be computed.
    return _progress_replies.get_or_compute(sender.account_id, lambda: _progress_text(sender.account))


def _progress_text(account) -> str:
    figures = employment(db.session, account)
    lines = [f"就业进展（{scope_label(account)}）",
             f"毕业生 {figures.graduates} 人，已落实 {figures.placed} 人，落实率 {figures.rate}%"]
    if figures.graduates == 0:
        lines.append(explain_no_match(db.session, account))
        return "\n".join(lines)
    lines.append("去向：")
    lines += [f"{dest} {n} 人" for dest, n in figures.by_destination.items()]
    lines.append(f"图表与毕业生名单：{stats_url()}")
    return "\n".join(lines)


def _top_line(title: str, pairs) -> str | None:
    if not pairs:
        return None
    return f"{title}：" + "，".join(f"{value} {n}" for value, n in pairs)


def graduates_text(sender: Sender) -> str:
    account = sender.account
    if not account.is_counselor:
        return STAFF_REFUSAL
    summary = graduate_summary(db.session, account)
    header = f"毕业生信息（{scope_label(account)}）"
    if summary.graduates == 0:
        return f"{header}\n毕业生 0 人。\n{explain_no_match(db.session, account)}"
    lines = [f"{header}\n共 {summary.graduates} 人。",
             _top_line("就业意愿", top(summary.intentions, 5)),
             _top_line("期望城市", top(summary.cities, 3)),
             _top_line("期望行业/岗位", top(summary.industries, 3)),
             _top_line("其他期望", top(summary.other_expectations, 3))]
    if summary.no_expectation:
        lines.append(f"求职期望{UNFILLED} {summary.no_expectation} 人")
    lines.append(f"关注绑定：已关注绑定 {summary.follows_bound} 人，未关注绑定 {summary.not_follows_bound} 人")
    lines.append(f"查询某人：回复「毕业生 姓名」；完整名单：{stats_url()}")
    return "\n".join(line for line in lines if line)


def lookup_text(sender: Sender, query: str) -> str:
    """`毕业生 张三`: the counselor's graduates whose name (or 学号) matches."""
    account = sender.account
    if not account.is_counselor:
        return STAFF_REFUSAL
    found = graduate_page(db.session, account, q=query, per_page=MAX_LOOKUP)
    if found.total == 0:
        return f"您负责的毕业生中没有找到「{query}」。回复「毕业生」查看汇总。"
    lines = [f"找到 {found.total} 人" + (f"（显示前 {MAX_LOOKUP} 人，完整名单见 {stats_url()}?q={quote(query)}）"
                                         if found.total > MAX_LOOKUP else "") + "："]
    for row in found.rows:
        lines.append(f"· {row.name}（{row.major}）\n  {row.destination} · 意愿 {row.intention or UNFILLED}"
                     f" · 期望 {clip(row.expectation, 21) or UNFILLED} · {'已关注绑定' if row.follows_bound else '未关注绑定'}")
    return "\n".join(lines)


def progress_command(message, sender, match):
    return progress_text(sender)


# The 毕业生 button (GRADUATES) is answered as its text command by handlers/menus.py.
def progress_click(message, sender, match):
    return progress_text(sender)


def graduates_command(message, sender, match):
    return graduates_text(sender)


def lookup_command(message, sender, match):
    return lookup_text(sender, match.group(1).strip())
