"""Near misses of a command (SPEC 6): a typo of its word (完城 4, 任物), a longer wording of it
(进展情况, 查看进度 3) or a command without the number it needs. The answer names the command to
send ("您是不是要发「完成 4」？"); only commands the sender's level may use are suggested, taken
from the same declarations as 帮助.
"""
from __future__ import annotations

import re

from rapidfuzz.distance import Levenshtein

from . import counselor, staff
from .help import help_lines

MAX_LINE = 16    # longer messages are sentences, not mistyped commands
SHAPE = re.compile(r"(?P<head>\D{1,10}?)\s*(?:[Tt#]\s*)?(?P<number>\d{1,9})?\s*(?:了|啦|吧|呀|啊|下|一下)?")
BARE_NUMBER = re.compile(r"(?:[Tt#]\s*)?(\d{1,5})")
_EXAMPLE = re.compile(r"(?P<word>\S+)(?: (?P<arg>.+))?")


def _pinyin(text: str) -> str:
    from pypinyin import Style, lazy_pinyin  # import here: pypinyin loads its dictionaries at import (over a second); only a fallback needs them

    return " ".join(lazy_pinyin(text, style=Style.NORMAL))


def commands_for(level: str) -> dict[str, tuple[bool, bool, str]]:
    """Command words `level` may use -> (may be sent alone, takes a task number, an example)."""
    words: dict[str, tuple[bool, bool, str]] = {}
    for line in help_lines(level):
        m = _EXAMPLE.fullmatch(line.example)
        arg = m.group("arg")
        alone, numbered, example = words.get(m.group("word"), (False, False, line.example))
        task_number = bool(arg and arg.isdigit() and len(arg) <= 9)
        words[m.group("word")] = (alone or not arg, numbered or task_number, example)
    return words


def _closeness(head: str, word: str) -> int:
    """0 = not this word; higher = more surely meant: same sound, a longer wording, one slip."""
    if head == word:
        return 4
    if len(head) == len(word) and _pinyin(head) == _pinyin(word):
        return 3
    if word in head and len(head) - len(word) <= 4 and len(word) >= 2:
        return 2
    if len(word) >= 2 and len(head) == len(word) and Levenshtein.distance(head, word) == 1:
        return 1
    return 0


def suggestion(line: str, sender) -> str | None:
    if not line or len(line) > MAX_LINE:
        return None
    level = sender.account_level or ""
    bare = BARE_NUMBER.fullmatch(line)
    if bare and sender.account is not None:
        return f"您是不是要查看任务 {bare.group(1)}？请回复「任务 {bare.group(1)}」。"
    m = SHAPE.fullmatch(line)
    if m is None:
        return None
    head, number = m.group("head").strip(), m.group("number")
    words = commands_for(level)
    scored = [(_closeness(head, word), len(word), word) for word in words]
    score, _, word = max(scored, default=(0, 0, ""))
    alone, numbered, example = words.get(word, (False, False, ""))
    if score == 0 or (score == 4 and ((number is None and alone) or (number is not None and numbered))):
        return None  # not a command, or exactly one that its own handler answered
    if not alone and not numbered:
        return f"您是不是要发「{word}」命令？格式如：{example}"
    if number is None and not alone:
        return _which_task(sender, word) or f"您是不是要发「{word} 编号」？如：{word} 12。回复「任务」查看任务编号。"
    wanted = f"{word} {number}" if number is not None and numbered else word
    return f"您是不是要发「{wanted}」？请直接回复：{wanted}"


def _which_task(sender, word: str) -> str | None:
    if sender.account is None:
        return None
    head = f"您是不是要发「{word} 编号」？\n"
    if word in ("完成", "签到") and sender.account.is_counselor:
        return head + counselor.which_task_text(sender, word)
    if word in ("进度", "未完成", "催办", "撤销") and not sender.account.is_counselor:
        return head + staff.which_task_text(sender, word)
    return None
