"""`帮助` for the sender's level, generated from the routes table (handlers/routes.py: each row's
`help=, example=, levels=`, declared as the table is registered), so help never offers what the level
cannot use."""
from __future__ import annotations

from models.resolution import Sender

from . import common
from .common import bind_instructions, no_account_text

COUNSELOR_COLUMN = "辅导员"


def help_lines(level: str) -> list[common.HelpLine]:
    """The declared help lines `level` may use ('' for a follower without an account)."""
    lines = [line for line in common.HELP_LINES.values() if level in line.levels]
    return sorted(lines, key=lambda line: line.last)


def visitor_text(greeting: str = "您好，欢迎关注国家24365大学生就业服务平台！") -> str:
    """What a follower who is not bound gets: the 24365 account's answer, and where counselors go."""
    return (greeting + "找工作、看就业资讯，请点击底部菜单。\n"
            f"高校辅导员和各级就业工作人员，请点击底部菜单「{COUNSELOR_COLUMN}」。")


def help_text(sender: Sender) -> str:
    if sender.account is None:
        if sender.identity is not None:
            return no_account_text(sender)
        return visitor_text() + "\n\n" + bind_instructions()
    level = sender.account.level
    items = [f"{line.example} —— {line.text}" for line in help_lines(level)]
    role = "辅导员" if sender.account.is_counselor else "工作人员"
    return (f"{sender.account.name}（{sender.account.level_name}）您好。{role}可用命令（照例子回复即可）：\n"
            + "\n".join(items) + "\n遇到问题，直接用文字提问即可。")


def help_command(message, sender, match):
    return help_text(sender)


def help_click(message, sender, match):
    return help_text(sender)
