r"""What every handler module shares: command registration with access checks, texts.

A command is a row of the routes table (handlers/routes.py), registered with
`command(robot, r"完成\s*(\d+)", needs=COUNSELOR)(function)`: the pattern is matched
against the message's first line after normalising full-width characters and spaces;
`needs` is checked before the function runs, and a refusal is answered for it
(binding instructions, staff only...).
The function gets (message, sender, match) and returns the reply text.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from flask import current_app

from bot.context import current_sender
from models.resolution import NO_ACCOUNT, OK, UNBOUND, Sender
from models.privacy import phone_tail
from models.vocab import COUNSELOR, LEVELS, MINISTRY, STAFF_LEVELS

ANY = "any"            # anyone, bound or not
ACCOUNT = "account"    # a resolved platform account (any level)
STAFF = "staff"        # staff at any level
COUNSELOR_ONLY = COUNSELOR
MINISTRY_ONLY = MINISTRY

_SPACES = re.compile(r"\s+")


# Every registered command normalises the same message text in turn (~25 per message): remember
# the last few results rather than redo NFKC and the regex each time.
@lru_cache(maxsize=256)
def normalize(text: str | None) -> str:
    """Full-width digits/letters/colons to ASCII, runs of spaces to one: '完成　１２' -> '完成 12'."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text or "")).strip()


@lru_cache(maxsize=256)
def first_line(text: str | None) -> str:
    return normalize((text or "").strip().split("\n", 1)[0])


def bind_instructions() -> str:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return (
        "您的微信尚未绑定平台账号。绑定方式（任选其一）：\n"
        "1. 回复「绑定 手机号」，如：绑定 13800000000，再回复收到的6位验证码；\n"
        f"2. 点击底部菜单「辅导员」→「登录绑定」，或打开 {base}/auth/login ，用账号密码登录绑定。\n"
        "绑定后回复「帮助」查看可用命令；绑定遇到问题请回复「诊断」。"
    )


def no_account_text(sender: Sender) -> str:
    tail = phone_tail(sender.identity.phone) if sender.identity else "????"
    return (
        "账号不存在：当前微信已绑定的登录账号（手机尾号" + tail + "）没有对应的平台账号。\n"
        "· 如果您的平台账号使用的是另一个手机号，请回复「解绑」，再用该手机号重新绑定；\n"
        "· 如果平台账号就应使用尾号" + tail + "的手机号，请联系上级管理员用该手机号为您创建账号。\n"
        "回复「诊断」可查看详细检查结果。"
    )


def refusal_for(sender: Sender, needs: str) -> str | None:
    """Why `sender` may not run a command that needs `needs`; None when it may."""
    if needs == ANY:
        return None
    if sender.status == UNBOUND:
        return bind_instructions()
    if sender.status == NO_ACCOUNT:
        return no_account_text(sender)
    assert sender.status == OK
    level = sender.account_level
    if needs == STAFF and level not in STAFF_LEVELS:
        return "该命令仅限各级工作人员使用。回复「帮助」查看辅导员可用的命令。"
    if needs == COUNSELOR_ONLY and level != COUNSELOR:
        return "该命令仅限辅导员使用。回复「帮助」查看工作人员可用的命令。"
    if needs == MINISTRY_ONLY and level != MINISTRY:
        return "该命令仅限部级账号使用。"
    return None


Handler = Callable[..., str | None]


@dataclass(frozen=True)
class HelpLine:
    """One line of `帮助`, declared with its command: `example` is what to type, `levels` who sees it."""
    example: str
    text: str
    levels: tuple[str, ...]
    last: bool = False   # the commands every level has (诊断, 帮助…) close the list


# Filled as the routes table is registered (command(), declare_help()): what 帮助 offers, in the
# table's order, and the words commands start with.
HELP_LINES: dict[str, HelpLine] = {}
COMMAND_WORDS: set[str] = set()
_LEADING_WORD = re.compile(r"[\u4e00-\u9fff]{2,}")


# A task number as users write it: 12, #12, or T12 as template messages print it.
TASK_NO = r"(?:[Tt#]\s*)?(\d{1,9})"


def declare_help(example: str, text: str, levels, last: bool = False) -> None:
    """A line of 帮助 for a command whose example differs by level (添加辅导员: the table's HelpLine rows)."""
    HELP_LINES[example] = HelpLine(example, text, tuple(levels), last)


def levels_of(needs: str) -> tuple[str, ...]:
    """The levels allowed by a `needs` value (ANY also means unbound users: '' stands for them)."""
    if needs == ANY:
        return ("", *LEVELS)
    if needs == ACCOUNT:
        return LEVELS
    if needs == STAFF:
        return STAFF_LEVELS
    return (needs,)


def _checked(fn: Handler, message, needs: str, match):
    """Check the sender may run it, then run it: the one place `needs` is enforced."""
    sender = current_sender(message.source)
    return refusal_for(sender, needs) or fn(message, sender, match)


def command_text(message, whole: bool = False) -> str:
    """The message's normalised first line (or whole text), worked out once per message:
    every registered command asks for it in turn."""
    key = "_fdy_whole_text" if whole else "_fdy_first_line"
    text = getattr(message, key, None)
    if text is None:
        text = normalize(message.content) if whole else first_line(message.content)
        setattr(message, key, text)
    return text


def command(robot, pattern: str, needs: str = ACCOUNT, whole: bool = False, help: str | None = None,
            example: str | None = None, levels: tuple[str, ...] | None = None, help_last: bool = False):
    """Register a text command. `whole=True` matches the whole message, not its first line.

    `help` and `example` make it a line of 帮助, shown to `levels` (default: every level `needs`
    lets in; narrower when the rules behind the command refuse some of them)."""
    regex = re.compile(pattern)
    word = _LEADING_WORD.match(pattern)
    if word:
        COMMAND_WORDS.add(word.group(0))
    if help:
        declare_help(example or word.group(0), help, levels or levels_of(needs), help_last)

    def decorator(fn: Handler) -> Handler:
        def handle(message):
            match = regex.fullmatch(command_text(message, whole))
            return _checked(fn, message, needs, match) if match else None

        handle.__name__ = f"command_{fn.__name__}"
        # Read by tests that walk every registered command (the floods of tests/test_floods.py).
        handle.fdy_pattern, handle.fdy_needs, handle.fdy_whole = pattern, needs, whole
        robot.add_handler(handle, type="text")
        return fn

    return decorator


def click(robot, key: str, needs: str = ACCOUNT):
    """Register a menu CLICK handler for `key`, with the same access checks as command()."""

    def decorator(fn: Handler) -> Handler:
        def handle(message):
            return _checked(fn, message, needs, None) if (message.key or "") == key else None

        handle.__name__ = f"click_{fn.__name__}"
        robot.add_handler(handle, type="click_event")
        return fn

    return decorator
