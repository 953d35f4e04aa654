r"""The routes table: every chat command and menu button, in one place and in the order tried.

Each `Route` is a command: the pattern its message must match (the first line, normalised: full-width
characters and runs of spaces folded; the whole message with `whole=True`), who may send it
(`needs`, checked before the function runs, with the refusal answered for it), the function
(module level in its concern's module; it gets (message, sender, match) and returns the reply, or
None to let the next handler try), and its line of 帮助: `help` and `example`, shown to `levels`
(default: every level `needs` lets in). A `HelpLine` row is a line of 帮助 whose example differs by
level; a `Plain` row is a handler that is not a command, tried at its place in the table.

WeRoBot tries the handlers of a message type in registration order and the first non-empty reply
wins: specific commands come before the general ones, and register_all() puts the question check
before the table and the near misses, FAQ answers and help after it. 帮助 (handlers/help.py) is
generated from the lines registered here, so help never offers what a level cannot use.

The concern modules never import this one: it imports them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from models.vocab import COLLEGE, COUNSELOR, LEVELS, MINISTRY, PROVINCE, SCHOOL

from . import accounts, binding, counselor, events, help, menus, questions, staff, stats
from .common import (ACCOUNT, ANY, COUNSELOR_ONLY, MINISTRY_ONLY, STAFF, TASK_NO, Handler, HelpLine, click, command,
                     declare_help)


@dataclass(frozen=True)
class Route:
    """A text command; see the module docstring."""
    pattern: str
    needs: str
    function: Handler
    help: str | None = None
    example: str | None = None
    levels: tuple[str, ...] | None = None
    whole: bool = False
    help_last: bool = False   # the commands every level has (诊断, 帮助…) close the list


@dataclass(frozen=True)
class Click:
    """A menu button (CLICK event with `key`), with the same access check as a command."""
    key: str
    needs: str
    function: Handler


@dataclass(frozen=True)
class Plain:
    """A handler that is not a command (it gets the message only), registered for `types` here."""
    function: Callable
    types: tuple[str, ...]


ROUTES: list[Route | HelpLine | Plain] = [
    # -- binding (SPEC 2): handlers/binding.py ------------------------------------------------------
    Route(r"(?:我的信息|个人信息|我的账号|账号信息)", ACCOUNT, binding.my_info,
          help="我的账号信息与修改密码", example="我的信息", help_last=True),
    # Not a reply: keeps the sender's role tag (and so its menu) in step with its account.
    Plain(binding.tag_recheck, ("text", "click_event")),
    Route(r"绑定(?:手机号?)?\s*(.*)", ANY, binding.bind_command, levels=("",),
          help="用手机验证码绑定微信", example="绑定 13800000000"),
    Route(r"\d{6}", ANY, binding.code_reply),   # the code of 绑定; None when none is pending
    Route(r"解绑(?:微信)?", ANY, binding.unbind_command, levels=LEVELS,
          help="解除微信与登录账号的绑定", help_last=True),
    Route(r"诊断\s*(\d{11})?", ANY, binding.diagnose_command,
          help="检查登录绑定，逐项给出处理办法", help_last=True),

    # -- staff account commands (SPEC 5): handlers/accounts.py ----------------------------------------
    HelpLine("添加辅导员 张明 13800000000 本科 软件工程 2026", "添加本院系的辅导员", (COLLEGE,)),
    HelpLine("添加辅导员 张明 13800000000 计算机学院 本科 软件工程 2026", "添加辅导员", (SCHOOL,)),
    Route(r"添加辅导员\s*(.*)", STAFF, accounts.add_counselor),
    Route(r"添加院系账号\s*(.*)", STAFF, accounts.add_college, levels=(SCHOOL,),
          help="添加院系账号", example="添加院系账号 王芳 13800000000 计算机学院"),
    Route(r"添加学校账号\s*(.*)", STAFF, accounts.add_school, levels=(PROVINCE,),
          help="添加学校账号", example="添加学校账号 李强 13800000000 东湖大学"),
    Route(r"添加省级账号\s*(.*)", STAFF, accounts.add_province, levels=(MINISTRY,),
          help="添加省级账号", example="添加省级账号 赵敏 13800000000 江苏省"),
    Route(r"删除账号\s*(.*)", STAFF, accounts.delete, help="删除下级账号", example="删除账号 13800000000"),
    Route(r"修改届别\s*(.*)", STAFF, accounts.cohorts, levels=(PROVINCE, SCHOOL, COLLEGE),
          help="修改一名辅导员的负责届别", example="修改届别 13800000000 2026,2027"),
    Route(r"届别滚动\s*(.*)", STAFF, accounts.rollover, levels=(PROVINCE, SCHOOL, COLLEGE),
          help="给管理范围内每名辅导员加上新届别", example="届别滚动 2027"),
    Route(r"修改(?:\s+(.*))?", STAFF, accounts.edit,
          help="修改下级账号（对象可写「账号」列表的序号、姓名或手机）", example="修改 1 手机 13900000000"),
    Route(r"重发短信\s*(.*)", STAFF, accounts.resend, help="重发开通账号的短信", example="重发短信 1"),
    Route(r"(?:记录|操作记录|账号记录)", STAFF, accounts.records, help="最近的账号变动记录", example="记录"),
    Route(r"(?:账号|用户管理|账号管理)\s*(\d{0,6})", STAFF, accounts.list_accounts,
          help="下级账号列表（平台的“用户管理”）", example="账号"),
    Route(r"导入毕业生\s*(.*)", MINISTRY_ONLY, accounts.import_file,
          help="导入服务器上的毕业生数据文件", example="导入毕业生 2026届.xlsx"),
    Route(r"导入单位\s*(.*)", MINISTRY_ONLY, accounts.import_units_file,
          help="导入服务器上的单位名单（省份,学校,院系）", example="导入单位 单位名单.xlsx"),

    # -- staff task commands (SPEC 3, 5): handlers/staff.py --------------------------------------------
    Route(r"(进度|未完成|催办|撤销)(?:任务|情况)?", STAFF, staff.which_task_command),   # without a number
    Route(r"派发(?:\s.*)?", STAFF, staff.dispatch_command, help="发布任务（先回复「派发」看格式）", example="派发"),
    Route(r"确认(?:派发)?", STAFF, staff.confirm_command),
    # After a preview people answer as they would a person: 确定, 好的, OK mean 确认. Without a
    # draft waiting these words are not commands (None: they fall through to the usual answers).
    Route(r"(?:确定|好的?|(?i:ok)|是的?|对|可以|没问题|发吧|发送|确认发送)[。.!！]?", ANY, staff.confirm_alias),
    Route(r"取消(?:派发)?", STAFF, staff.cancel_command),
    Route(r"进度\s*" + TASK_NO, STAFF, staff.progress_command, help="任务完成进度", example="进度 12"),
    Route(r"未完成\s*" + TASK_NO, STAFF, staff.pending_command, help="未完成的辅导员名单", example="未完成 12"),
    Route(r"(?:触达|触达情况|辅导员触达情况|关注绑定情况|查看辅导员触达情况)", STAFF, staff.reach_command,
          help="辅导员关注与绑定情况（平台的“辅导员触达情况”）", example="触达"),
    Route(r"催办\s*" + TASK_NO, STAFF, staff.urge_command, help="提醒未完成的辅导员（每2小时一次）", example="催办 12"),
    Route(r"导出\s*" + TASK_NO, STAFF, staff.export_command, help="任务进度的 Excel 表（按单位汇总）", example="导出 12"),
    Route(r"撤销\s*" + TASK_NO, STAFF, staff.withdraw_command, help="撤销自己派发的任务", example="撤销 12"),

    # -- tasks for both roles, counselor 完成 / 签到 (SPEC 6): handlers/counselor.py ---------------------
    Route(r"(完成|签到)(?:了|啦|一下|任务)?", COUNSELOR_ONLY, counselor.which_task_command),   # without a number
    Route(r"(任务|我的任务|任务列表|查看任务)", ACCOUNT, counselor.tasks_command, help="待办与近期任务", example="任务"),
    Route(r"(?:任务|我的任务)?\s*" + r"(?:[Tt#]\s*)(\d{1,9})|任务\s*(\d{1,9})", ACCOUNT, counselor.task_command,
          help="任务详情（T12、#12 都可以）", example="任务 12"),
    Route(r"完成\s*" + TASK_NO, COUNSELOR_ONLY, counselor.complete_command, help="标记任务已完成", example="完成 12"),
    Route(r"签到\s*" + TASK_NO, COUNSELOR_ONLY, counselor.checkin_command, help="直播课签到", example="签到 15"),

    # -- employment statistics (SPEC 4, 6, 9.5): handlers/stats.py ----------------------------------
    Route(r"(?:进展|就业进展|就业进展情况|查看就业进展|查看就业进展情况|进展情况)", ACCOUNT, stats.progress_command,
          levels=(COUNSELOR,), help="就业统计（平台的“查看就业进展情况”）", example="进展"),
    Route(r"毕业生(?:信息)?", ACCOUNT, stats.graduates_command, levels=(COUNSELOR,),
          help="毕业生信息汇总", example="毕业生"),
    Route(r"毕业生 (.{1,20})", ACCOUNT, stats.lookup_command, levels=(COUNSELOR,),
          help="按姓名或学号查毕业生", example="毕业生 张三"),

    # -- help: handlers/help.py ---------------------------------------------------------------------
    Route(r"(帮助|help|HELP|\?|？|菜单|命令|使用说明)", ANY, help.help_command,
          help="查看可用命令", example="帮助", help_last=True),

    # -- menus: handlers/menus.py -------------------------------------------------------------------
    Route(r"发布菜单", MINISTRY_ONLY, menus.publish_menus, help="校验并发布公众号菜单"),
]

# Menu buttons (CLICK events). The buttons that stand for a text command (毕业生, 账号…,
# menus.data.CLICK_COMMANDS) are answered as that command by the last row.
CLICKS: list[Click | Plain] = [
    # binding.tag_recheck comes first for clicks too: it is registered by its row of ROUTES.
    Click("DIAGNOSE", ANY, binding.diagnose_click),
    Click("BIND", ANY, binding.bind_click),
    Click("STATS", ACCOUNT, stats.progress_click),
    Click("HELP", ANY, help.help_click),
    Plain(menus.command_click, ("click_event",)),
]


def register_table(robot, rows) -> None:
    """Register rows of ROUTES or CLICKS in their order, and declare their lines of 帮助."""
    for row in rows:
        if isinstance(row, Route):
            command(robot, row.pattern, needs=row.needs, whole=row.whole, help=row.help, example=row.example,
                    levels=row.levels, help_last=row.help_last)(row.function)
        elif isinstance(row, Click):
            click(robot, row.key, needs=row.needs)(row.function)
        elif isinstance(row, HelpLine):
            declare_help(row.example, row.text, row.levels, row.last)
        else:
            for kind in row.types:
                robot.add_handler(row.function, type=kind)


def register_all(robot) -> None:
    """Every handler, in the order WeRoBot tries them (per message type)."""
    events.register(robot)              # subscribe/unsubscribe, delivery receipts
    questions.register(robot)           # a command word inside a question: the FAQ answers, not the command
    register_table(robot, ROUTES)       # the commands
    register_table(robot, CLICKS)       # the menu buttons
    questions.register_fallback(robot)  # near misses, FAQ answers, help
