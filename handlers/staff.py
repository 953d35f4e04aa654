"""Staff task commands (SPEC 3, 5): 派发/确认/取消, 进度 N, 未完成 N, 触达, 催办 N, 撤销 N.

Nothing here calls WeChat: notifications are queued (jobs/notify.py) after the
database commit, so the webhook answers in time and nothing is lost.
"""
from __future__ import annotations

import logging

import redis
from flask import current_app

from bot.store import get_redis
from jobs import reminders
from models import db
from models import dispatch as dispatch_rules
from models import dispatch_form
from models import task_figures, task_rules
from models.privacy import phone_tail
from models.clock import local_text
from models.tasks import Task
from models.text import clip
from models.vocab import TASK_TYPE_SHORT

from .new_task import create_and_start
from .pages.progress import EXPORT_TTL_TEXT, export_url

log = logging.getLogger(__name__)

REPLY_LIMIT = 600


def fit_reply(head: list[str], items: list[str], tail: list[str], more: str = "……另有 {n} 条未列出",
              limit: int = REPLY_LIMIT) -> str:
    """head + as many items as fit + tail, within a passive reply's length (SPEC: under ~600 characters)."""
    budget = limit - sum(len(x) + 1 for x in head + tail) - len(more) - 8
    shown = []
    for item in items:
        if budget - len(item) - 1 < 0:
            break
        shown.append(item)
        budget -= len(item) + 1
    if len(shown) < len(items):
        shown.append(more.format(n=len(items) - len(shown)))
    return "\n".join(head + shown + tail)


def _base() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/")


def _not_found(task_id: int) -> str:
    return f"没有找到任务 #{task_id}，或它不在您的管理范围内。回复「任务」查看您能看到的任务。"


def visible_task(sender, task_id: int) -> Task | None:
    task = db.session.get(Task, task_id)
    if task is None or not task_rules.can_see(db.session, sender.account, task):
        return None
    return task


# -- 派发 / 确认 / 取消 -------------------------------------------------------------------
def dispatch_reply(sender, text: str) -> str:
    account = sender.account
    body = text.strip()
    if body.replace("派发", "", 1).strip() == "":
        return (dispatch_form.form_template(account)
                + f"\n也可以一行发送（字段用空格或；分隔），或打开派发页面逐项填写：{_base()}/tasks/new")
    draft, errors = dispatch_rules.parse(db.session, account, body)
    if errors:
        head = f"派发内容有 {len(errors)} 处需要修改：\n"
        tail = "\n改好后请重新发送整条「派发」消息；回复「派发」查看格式。"
        lines, used = [], len(head) + len(tail)
        for i, err in enumerate(errors, start=1):
            line = f"{i}. {err}"
            if used + len(line) + 1 > REPLY_LIMIT - 20:
                lines.append(f"……另有 {len(errors) - i + 1} 处")
                break
            lines.append(line)
            used += len(line) + 1
        return head + "\n".join(lines) + tail
    total, unreachable = dispatch_rules.count_recipients(db.session, account, draft)
    if total == 0:
        return ("没有符合条件的辅导员：请检查届别、层次和范围（辅导员须负责该届别）。未生成派发草稿，"
                "修改后请重新发送「派发」消息。")
    try:
        dispatch_rules.save_draft(get_redis(), account.id, draft)
    except redis.RedisError:
        log.warning("dispatch draft could not be saved (redis down)")
        return "系统暂时无法保存派发草稿，请稍后重新发送。"
    return dispatch_rules.preview_text(draft, total, unreachable)


def _has_draft(account_id: int) -> bool:
    try:
        return bool(get_redis().exists(dispatch_rules.DRAFT_KEY.format(account_id)))
    except redis.RedisError:
        return False


def confirm_reply(sender) -> str:
    account = sender.account
    try:
        draft = dispatch_rules.take_draft(get_redis(), account.id)
    except redis.RedisError:
        return "系统暂时无法读取派发草稿，请稍后回复「确认」。"
    if draft is None:
        return "没有待确认的派发（草稿10分钟内有效）。请重新发送「派发」消息。"
    return create_and_start(account, draft)[1]


# -- supervision --------------------------------------------------------------------------
def progress_text(sender, task: Task) -> str:
    p = task_figures.progress(db.session, sender.account, task)
    scope = "全部接收人" if task.issuer_id == sender.account.id else "您管理范围内"
    lines = [f"任务 #{task.id}「{clip(task.title, 24)}」（{TASK_TYPE_SHORT.get(task.type, task.type)}）"
             + ("【已撤销】" if task.status == "cancelled" else ""),
             f"{scope}辅导员 {p.total} 人：已完成 {p.done}/{p.total}，未完成 {p.pending}，"
             f"未触达 {p.unreachable}，已送达 {p.delivered}"]
    if task.confidential:
        lines.append("学生查看 0 人（保密任务，不转发学生）")
    elif task.student_text:
        lines.append(f"学生查看 {p.student_views} 人（{p.forwarded}/{p.total} 名辅导员的学生链接有学生打开）")
    else:
        lines.append("学生查看 0 人（本任务未填写「给学生」，不转发学生）")
    if task.is_live:
        lines.append(f"直播课：已标记完成 {p.completed}，已签到 {p.checked_in}（两者都做到才算完成）")
    if p.refused or p.failed:
        lines.append("，".join(x for x in (f"拒收通知 {p.refused} 人" if p.refused else "",
                                           f"发送失败 {p.failed} 人" if p.failed else "") if x))
    units = []
    if p.units:
        more = f"（共{p.unit_count}个，未完成多的在前）" if p.unit_count > len(p.units) else "："
        lines.append(f"按{p.unit_kind}{more}")
        units = [f"{clip(u.name, 14)}：已完成 {u.done}/{u.total}，未完成 {u.pending}，未触达 {u.unreachable}"
                 for u in p.units]
    tail = [f"名单：回复「未完成 {task.id}」；催办：回复「催办 {task.id}」", f"详情：{_base()}/progress/{task.id}"]
    return fit_reply(lines, units, tail, more="……其余见详情页")


def pending_text(sender, task: Task) -> str:
    total, rows = task_figures.pending_recipients(db.session, sender.account, task, limit=20)
    if total == 0:
        return f"任务 #{task.id} 在您管理的范围内没有未完成的辅导员。"
    head = [f"任务 #{task.id} 未完成 {total} 人："]
    items = []
    for account, college, rec in rows:
        mark = "（未触达）" if rec.notify_state == "unreachable" and rec.completed_at is None else ""
        if task.is_live and rec.completed_at is not None:
            mark += "（未签到）"
        items.append(f"{clip(account.name, 16)} {clip(college, 12)} 尾号{phone_tail(account.phone)}{mark}")
    tail = [f"完整名单：{_base()}/progress/{task.id}"] if total > len(items) else []
    return fit_reply(head, items, tail, more=f"……共 {total} 人，其余见下方链接" if total > len(items) else "……其余见进度页")


def reach_text(sender) -> str:
    r = task_figures.reach(db.session, sender.account, limit=20)
    lines = [f"您管理的辅导员 {r.total} 人：已绑定 {r.bound} 人，其中关注公众号 {r.following} 人；"
             f"未绑定 {r.total - r.bound} 人。收不到任务通知（未触达）{r.unreachable} 人。"]
    if not r.not_bound:
        return "\n".join(lines)
    lines.append("未绑定的辅导员" + ("（前20人）：" if r.total - r.bound > 20 else "："))
    items = [f"{clip(account.name, 16)} {clip(college, 12)} 尾号{phone_tail(account.phone)}"
             for account, college in r.not_bound]
    return fit_reply(lines, items, ["请提醒他们关注公众号并回复「绑定 手机号」完成绑定。"], more="……")


def export_text(sender, task: Task) -> str:
    p = task_figures.progress(db.session, sender.account, task)
    scope = "全部接收人" if task.issuer_id == sender.account.id else "您管理范围内的接收人"
    return (f"任务 #{task.id}「{clip(task.title, 24)}」的进度表（Excel，{scope} {p.total} 人，含按单位汇总）：\n"
            f"{export_url(task.id, sender.account.id)}\n"
            f"链接{EXPORT_TTL_TEXT}内有效，可在电脑浏览器中打开下载；请勿转发给他人。")


def staff_task_list(sender) -> str:
    account = sender.account
    tasks = task_rules.staff_tasks(db.session, account, limit=8)
    if not tasks:
        return "暂无任务：您还没有派发任务，您管理的辅导员也没有收到任务。回复「派发」查看派发格式。"
    items = []
    for task in tasks:
        p = task_figures.progress(db.session, account, task)
        mine = "我派发 " if task.issuer_id == account.id else ""
        status = "【已撤销】" if task.status == "cancelled" else ""
        items.append(f"#{task.id} {mine}{clip(task.title, 16)}{status} 已完成 {p.done}/{p.total}")
    return fit_reply(["最近的任务（已完成/人数为您管理范围内）："], items,
                     ["回复「进度 编号」查看进度，「未完成 编号」查看名单，「催办 编号」提醒未完成的辅导员。",
                      f"全部任务：{_base()}/progress/"])


def staff_task_detail(sender, task: Task) -> str:
    lines = [f"任务 #{task.id}「{task.title}」",
             f"类型：{TASK_TYPE_SHORT.get(task.type, task.type)}　届别：{task.cohort}　层次：{'、'.join(task.level_list)}",
             f"派发：{task.issuer.name}（{task.issuer.unit.name}）{local_text(task.created_at)}"]
    if task.deadline:
        lines.append(f"截止：{local_text(task.deadline)}")
    if task.live_start:
        lines.append(f"时间：{local_text(task.live_start)} 至 {local_text(task.live_end)}")
    if task.confidential:
        lines.append("保密任务")
    lines.append(f"内容：{clip(task.content, 160)}")
    p = task_figures.progress(db.session, sender.account, task)
    lines.append(f"已完成 {p.done}/{p.total}，未触达 {p.unreachable}。回复「进度 {task.id}」查看详情。")
    return "\n".join(lines)


def which_task_text(sender, verb: str) -> str:
    """`进度`, `未完成`, `催办`, `撤销` without a number: the tasks it could mean."""
    tasks = task_rules.staff_tasks(db.session, sender.account, limit=8)
    if not tasks:
        return "暂无任务：您还没有派发任务，您管理的辅导员也没有收到任务。回复「派发」查看派发格式。"
    example = f"{verb} {tasks[0].id}"
    items = [f"#{task.id} {clip(task.title, 20)}" for task in tasks]
    return fit_reply([f"请在「{verb}」后加上任务编号，如：{example}。最近的任务："], items,
                     [f"回复「{example}」即可；全部任务：{_base()}/progress/"])


def which_task_command(message, sender, match):
    return which_task_text(sender, match.group(1))


def dispatch_command(message, sender, match):
    return dispatch_reply(sender, message.content or "")


def confirm_command(message, sender, match):
    return confirm_reply(sender)


# After a preview people answer as they would a person: 确定, 好的, OK mean 确认. Without a
# draft waiting these words are not commands (they fall through to the usual answers).
def confirm_alias(message, sender, match):
    if sender.account is None or sender.account.is_counselor or not _has_draft(sender.account.id):
        return None
    return confirm_reply(sender)


def cancel_command(message, sender, match):
    try:
        dropped = dispatch_rules.drop_draft(get_redis(), sender.account.id)
    except redis.RedisError:
        dropped = False
    return "已取消，本次派发没有发出。" if dropped else "没有待确认的派发，无需取消。"


def progress_command(message, sender, match):
    task = visible_task(sender, int(match.group(1)))
    return progress_text(sender, task) if task else _not_found(int(match.group(1)))


def pending_command(message, sender, match):
    task = visible_task(sender, int(match.group(1)))
    return pending_text(sender, task) if task else _not_found(int(match.group(1)))


def reach_command(message, sender, match):
    return reach_text(sender)


def urge_command(message, sender, match):
    task = visible_task(sender, int(match.group(1)))
    if task is None:
        return _not_found(int(match.group(1)))
    result = task_rules.urge(db.session, sender.account, task)
    if result.ok:
        try:
            reminders.start_urge(result.urge.id)
        except redis.RedisError:
            # Not queued means not sent: drop the record (it would block a retry for 2 hours)
            # and say so, rather than report a 催办 nobody will ever receive.
            log.error("urge %s not queued (redis down); record dropped", result.urge.id)
            db.session.delete(result.urge)
            db.session.commit()
            return (f"催办未能发出：系统消息队列暂时不可用，本次不计入2小时的次数限制。"
                    f"请几分钟后再回复「催办 {task.id}」。")
    return result.text


def export_command(message, sender, match):
    task = visible_task(sender, int(match.group(1)))
    return export_text(sender, task) if task else _not_found(int(match.group(1)))


def withdraw_command(message, sender, match):
    task = visible_task(sender, int(match.group(1)))
    if task is None:
        return _not_found(int(match.group(1)))
    outcome = task_rules.cancel(db.session, sender.account, task)
    if outcome.ok:
        try:
            reminders.cancel(task.id)
        except redis.RedisError:
            log.warning("reminders of task %s not removed now; the reminder job re-checks", task.id)
    return outcome.text
