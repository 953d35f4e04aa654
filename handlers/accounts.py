"""Account commands for bound staff (SPEC 5): add, delete, cohorts, roll-over, list.

Parsing lives here; every rule (scope, phone uniqueness, name matching, audit)
lives in models.account_rules. Each reply says what changed or every reason it
did not, and masks every phone in it.
"""
from __future__ import annotations

import logging
import os

import redis
from flask import current_app

from bot.store import get_redis
from jobs.imports import start_import, start_unit_import
from models import db
from models import account_edits as edits
from models import account_changes as changes
from models import account_rules as rules
from models import people
from models.privacy import mask_phone
from models.vocab import COUNSELOR, STUDY_LEVELS

from . import follow_up
from .common import normalize

log = logging.getLogger(__name__)

PAGE_SIZE = 8
MAJORS_SHOWN = 3
IMPORT_DIR = "imports"

USAGE = {
    "counselor": ("格式：\n院系账号：添加辅导员 姓名 手机 层次 专业1,专业2 [届别1,届别2]\n"
                  "学校账号：添加辅导员 姓名 手机 院系 层次 专业1,专业2 [届别1,届别2]\n"
                  f"层次为{'/'.join(STUDY_LEVELS)}；届别不填则为当前毕业届。\n"
                  "例：添加辅导员 张明 13800000000 本科 软件工程,计算机科学与技术 2026"),
    "college": "格式：添加院系账号 姓名 手机 院系 [层次1,层次2]（不填层次则管理全部层次）\n例：添加院系账号 王芳 13800000000 计算机学院 本科,硕士",
    "school": "格式：添加学校账号 姓名 手机 学校\n例：添加学校账号 李强 13800000000 东湖大学",
    "province": "格式：添加省级账号 姓名 手机 省份\n例：添加省级账号 赵敏 13800000000 江苏省",
    "delete": "格式：删除账号 对象（手机号、「账号」列表中的编号或姓名）\n例：删除账号 13800000000，或：删除账号 3",
    "cohorts": "格式：修改届别 对象 届别1,届别2（对象：手机号、编号或姓名）\n例：修改届别 张明 2026,2027",
    "rollover": "格式：届别滚动 届别\n例：届别滚动 2027（为您管理范围内的每名辅导员添加2027届）",
    "edit": ("格式：修改 对象 字段 新值（对象：「账号」中的编号、姓名或手机号）\n"
             "字段：姓名、手机、院系、层次、专业、届别（按账号级别适用）\n"
             "例：修改 3 专业 软件工程,网络工程；修改 张明 手机 13800000000；修改 张明 院系 软件学院 软件工程"),
    "resend": "格式：重发短信 对象（编号、姓名或手机号）\n例：重发短信 3",
}
RESEND_KEY = "fdy:resend-sms:{}"

# Tokens of digits are cohorts (a bad one like "26" is then reported as a bad cohort, not a major).
_YEAR_CHARS = frozenset("0123456789,，、")


def _is_years(token: str) -> bool:
    # A set test, not a regex: "[\d,]*\d[\d,]*" backtracks quadratically on a long token.
    return any(c.isdigit() for c in token) and set(token) <= _YEAR_CHARS


def _args(match) -> list[str]:
    return [t for t in normalize(match.group(1) or "").split(" ") if t]


def _reply(text: str) -> str:
    # Replies about other people never carry a full phone.
    return mask_phone(text)


def _usage(key: str, missing: str) -> str:
    return _reply(f"{missing}\n{USAGE[key]}")


def parse_counselor(tokens: list[str], sender_level: str) -> dict | None:
    """Both forms of 添加辅导员; None when too short to be either."""
    if len(tokens) < 4:
        return None
    long_form = tokens[3] in STUDY_LEVELS and tokens[2] not in STUDY_LEVELS
    if not long_form and tokens[2] not in STUDY_LEVELS and sender_level != "college" and len(tokens) >= 5:
        long_form = True  # a school account's form, with a 层次 we will report as invalid
    college = tokens[2] if long_form else None
    rest = tokens[4:] if long_form else tokens[3:]
    level = tokens[3] if long_form else tokens[2]
    years = [t for t in rest if _is_years(t)]
    majors = [t for t in rest if not _is_years(t)]
    return {"name": tokens[0], "phone": tokens[1], "college": college, "study_level": level,
            "majors": ",".join(majors), "cohorts": ",".join(years) or None}


# The numbers of a sender's latest 账号 list, so that 删除账号 3 means what the sender saw.
LIST_KEY = "fdy:account-list:{}"
LIST_TTL = 24 * 3600


def save_listing(actor_id: int, ids: list[int]) -> None:
    try:
        get_redis().set(LIST_KEY.format(actor_id), ",".join(map(str, ids)), ex=LIST_TTL)
    except redis.RedisError as exc:
        # Numbers then cannot be used until Redis is back; names and phones still work.
        log.warning("account list numbering not kept (%s)", type(exc).__name__)


def latest_listing(actor_id: int) -> list[int] | None:
    try:
        raw = get_redis().get(LIST_KEY.format(actor_id))
    except redis.RedisError:
        return None
    return [int(x) for x in raw.decode().split(",") if x] if raw else None


def pick_target(sender, token: str, verb: str) -> people.Pick:
    """The account a command names (number, name or phone); keeps any fresh numbering it showed."""
    found = people.pick(db.session, sender.account, token, latest_listing(sender.account.id), verb)
    if found.listing is not None:
        save_listing(sender.account.id, found.listing)
    return found


def refusal(found: people.Pick, prefix: str) -> str:
    # The candidates of an ambiguous name are the sender's own accounts: their phones stay whole.
    return rules.refused(*found.reasons).text(prefix)


def account_line(account) -> str:
    # Only accounts the sender manages are listed: full phones, the manager needs them to call.
    line = f"{account.level_name} {account.name} {account.phone} {account.unit.name}"
    if account.level == COUNSELOR:
        labels = [m.label for m in account.majors]
        shown = "、".join(labels[:MAJORS_SHOWN]) + (f"等{len(labels)}个" if len(labels) > MAJORS_SHOWN else "")
        line += f" {account.study_level} {shown} {'、'.join(map(str, account.cohorts))}届"
    elif account.levels:
        line += f"（{'、'.join(account.study_levels)}）"
    return line


def accounts_page(session, actor, page: int) -> str:
    accounts = changes.accounts_under(session, actor)
    save_listing(actor.id, [a.id for a in accounts])
    if not accounts:
        return f"您管理的单位（{actor.unit.full_name}）内还没有下级账号。\n回复「帮助」查看添加账号的命令。"
    pages = (len(accounts) + PAGE_SIZE - 1) // PAGE_SIZE
    page = min(max(page, 1), pages)
    counts: dict[str, int] = {}
    for acc in accounts:
        counts[acc.level_name] = counts.get(acc.level_name, 0) + 1
    head = "、".join(f"{name} {n} 个" for name, n in counts.items())
    lines = [f"{actor.unit.full_name}的下级账号：{head}（第 {page}/{pages} 页）"]
    start = (page - 1) * PAGE_SIZE
    lines += [f"{start + i}. {account_line(a)}" for i, a in enumerate(accounts[start:start + PAGE_SIZE], 1)]
    if page < pages:
        lines.append(f"回复「账号 {page + 1}」查看下一页。")
    lines.append("删除、修改时可用编号、姓名或手机号指定账号，如：修改 1 专业 软件工程")
    return "\n".join(lines)


def add_counselor(message, sender, match):
    fields = parse_counselor(_args(match), sender.account.level)
    if fields is None:
        return _usage("counselor", "添加辅导员需要姓名、手机、层次和负责专业。")
    result = rules.add_counselor(db.session, sender.account, **fields)
    follow_up.start(result)
    return _reply(result.text("未添加辅导员"))


def add_college(message, sender, match):
    tokens = _args(match)
    if len(tokens) < 3:
        return _usage("college", "添加院系账号需要姓名、手机和院系。")
    result = rules.add_college_account(db.session, sender.account, name=tokens[0], phone=tokens[1],
                                       college=tokens[2], levels=",".join(tokens[3:]))
    follow_up.start(result)
    return _reply(result.text("未添加院系账号"))


def add_school(message, sender, match):
    tokens = _args(match)
    if len(tokens) < 3:
        return _usage("school", "添加学校账号需要姓名、手机和学校。")
    result = rules.add_school_account(db.session, sender.account, name=tokens[0], phone=tokens[1],
                                      school="".join(tokens[2:]))
    follow_up.start(result)
    return _reply(result.text("未添加学校账号"))


def add_province(message, sender, match):
    tokens = _args(match)
    if len(tokens) < 3:
        return _usage("province", "添加省级账号需要姓名、手机和省份。")
    result = rules.add_province_account(db.session, sender.account, name=tokens[0], phone=tokens[1],
                                        province="".join(tokens[2:]))
    follow_up.start(result)
    return _reply(result.text("未添加省级账号"))


def delete(message, sender, match):
    tokens = _args(match)
    if len(tokens) != 1:
        return _usage("delete", "删除账号需要且只需要一个对象。")
    found = pick_target(sender, tokens[0], "删除")
    if found.account is None:
        return refusal(found, "未删除")
    return _reply(follow_up.start(changes.delete_account(db.session, sender.account, found.account)).text("未删除"))


def cohorts(message, sender, match):
    tokens = _args(match)
    if len(tokens) < 2:
        return _usage("cohorts", "修改届别需要对象和届别。")
    found = pick_target(sender, tokens[0], "修改")
    if found.account is None:
        return refusal(found, "未修改届别")
    result = changes.change_cohorts(db.session, sender.account, found.account, ",".join(tokens[1:]))
    return _reply(result.text("未修改届别"))


def rollover(message, sender, match):
    tokens = _args(match)
    if len(tokens) != 1:
        return _usage("rollover", "届别滚动需要一个届别。")
    return _reply(changes.roll_over(db.session, sender.account, tokens[0]).text("未执行届别滚动"))


def edit(message, sender, match):
    tokens = _args(match)
    if len(tokens) < 3:
        return _usage("edit", "修改需要对象、字段和新值。")
    found = pick_target(sender, tokens[0], "修改")
    if found.account is None:
        return refusal(found, "未修改")
    value = " ".join(tokens[2:]) if edits.field_of(tokens[1]) == edits.COLLEGE_FIELD else ",".join(tokens[2:])
    return _reply(follow_up.start(edits.edit(db.session, sender.account, found.account, tokens[1], value)).text("未修改"))


def resend(message, sender, match):
    tokens = _args(match)
    if len(tokens) != 1:
        return _usage("resend", "重发短信需要且只需要一个对象。")
    found = pick_target(sender, tokens[0], "重发短信")
    if found.account is None:
        return refusal(found, "未重发")
    result = follow_up.start(edits.resend_sms(db.session, sender.account, found.account,
                                               lambda: count_resend(found.account.id)))
    return _reply(result.text("未重发"))


def records(message, sender, match):
    return _reply(records_text(sender.account))


# The menu button 账号 (key ACCOUNTS) is bridged to this command by handlers/menus.py.
def list_accounts(message, sender, match):
    return accounts_page(db.session, sender.account, int(match.group(1) or 1))


def import_file(message, sender, match):
    return _reply(start_import_from_chat(sender, normalize(match.group(1) or "")))


def import_units_file(message, sender, match):
    return _reply(start_import_from_chat(sender, normalize(match.group(1) or ""), units=True))


def count_resend(account_id: int) -> int | None:
    """Count one 重发短信 of the account today, atomically; None when Redis cannot count."""
    key = RESEND_KEY.format(account_id)
    try:
        pipe = get_redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, 24 * 3600, nx=True)
        return int(pipe.execute()[0])
    except redis.RedisError as exc:
        log.warning("resend counter unavailable (%s)", type(exc).__name__)
        return None


def records_text(actor) -> str:
    records = edits.latest_changes(db.session, actor, limit=10)
    if not records:
        return f"您管理的单位（{actor.unit.full_name}）内还没有账号变更记录。"
    lines = [f"{actor.unit.full_name}最近的账号变更："]
    budget = 560 - len(lines[0])
    for r in records:
        detail = r.detail if len(r.detail) <= 60 else r.detail[:59] + "…"
        line = f"{r.at} {r.actor.split('（')[0]} {r.action}：{detail}"
        if budget - len(line) - 1 < 0:
            break
        lines.append(line)
        budget -= len(line) + 1
    return "\n".join(lines)


def start_import_from_chat(sender, name: str, units: bool = False) -> str:
    """Import a file an admin placed in instance/imports/, as a job that reports back: graduates,
    or with `units` a unit list (省份,学校,院系)."""
    # IMPORT_DIR may be set in app.config (tests, other layouts); default instance/imports.
    folder = current_app.config.get("IMPORT_DIR") or os.path.join(current_app.instance_path, IMPORT_DIR)
    verb = "导入单位" if units else "导入毕业生"
    if not name:
        what = "表头为 省份,学校,院系" if units else "表头为就业数据的13列"
        return f"格式：{verb} 文件名\n文件须先由管理员放到服务器目录 {folder} 下（.csv 或 .xlsx，{what}）。"
    if "/" in name or "\\" in name or name.startswith(".") or not name.lower().endswith((".csv", ".xlsx")):
        return f"文件名“{name}”无效：只写文件名（不含路径），且须为 .csv 或 .xlsx 文件。"
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        return f"未找到文件“{name}”：请先由管理员放到服务器目录 {folder} 下。"
    job = start_unit_import(path, openid=sender.openid) if units else start_import(path, openid=sender.openid)
    if job is None:
        return f"文件“{name}”已在导入中，完成后会发消息告知结果。"
    log.info("%s import of %s queued by account %s", "unit" if units else "graduate", name, sender.account.id)
    return f"已开始导入“{name}”，完成后会发消息告知新增{'单位' if units else '、更新'}和错误行数。"
