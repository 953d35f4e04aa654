"""Messages in users' own words (SPEC 6, 7): questions answered from the FAQ (faq/), a command word
inside a question, near misses of a command, and what a message nobody understood gets.

Two handlers: `question_first` runs before the commands and takes a message that starts with a
command word but reads as a question ("绑定微信的时候提示操作频繁怎么办？" is not `绑定 手机`);
`unknown` runs last and answers whatever no command took.
"""
from __future__ import annotations

import logging
import re
import threading

from bot.context import current_sender
from faq import book

from . import common, near_miss
from .common import command_text
from .help import help_text, visitor_text

log = logging.getLogger(__name__)

MAX_SCAN = 200   # question words are looked for in the first 200 characters only

QUESTION = re.compile(r"[?？]|怎么|怎样|咋|为什么|为何|为啥|如何|什么|啥|哪|吗|嘛|呢|能不能|能否|可不可以|是不是|请问|"
                      r"找不到|收不到|看不到|没收到|没有收到|不显示|失败|报错|提示|不了|无法|不能|没反应|不对|问题|"
                      r"的时候|时候")

NO_ANSWER = ("抱歉，没有找到与您的问题相符的解答。\n"
             "可以回复「帮助」查看可用命令，回复「诊断」检查登录绑定；仍未解决，请反馈至学校就业服务中心。")


CODE = re.compile(r"\d{6}")
DIGIT = re.compile(r"\d")


def reads_as_question(text: str) -> bool:
    return bool(QUESTION.search(text[:MAX_SCAN]))


def faq_answer(text: str, sender) -> str | None:
    match = book().best(text, sender.role)
    if match is None:
        return None
    log.info("faq answer %s (score %s)", match.entry.id, match.score)
    return match.entry.answer


def _leading_command_word(line: str) -> str | None:
    words = [w for w in common.COMMAND_WORDS if line.startswith(w)]
    return max(words, key=len) if words else None


def question_first(message):
    """A command word followed by a question is a question: answer it rather than the command's usage."""
    line = command_text(message)
    word = _leading_command_word(line)
    # 派发 is a multi-line form whose fields may hold any text, question marks included.
    if word is None or word == "派发":
        return None
    rest = line[len(word):]
    if reads_as_question(rest):
        return faq_answer(command_text(message, whole=True), current_sender(message.source)) or NO_ANSWER
    # No question word, but words where the command wants a phone or a number ("绑定率偏低 届别
    #要不要改"): the FAQ answers when it recognises the question, else the command has its say.
    if len(rest.strip()) >= 4 and not DIGIT.search(rest):
        return faq_answer(command_text(message, whole=True), current_sender(message.source))
    return None


def unknown(message):
    """Registered last: a near miss gets its command, a question its answer, anything else help."""
    sender = current_sender(message.source)
    if message.type != "text":
        if sender.identity is None:
            return visitor_text()
        return "暂不支持处理此类消息，请发送文字。\n" + help_text(sender)
    line = command_text(message)
    if CODE.fullmatch(line):
        return ("没有看懂您的消息：您现在没有待验证的验证码（验证码5分钟内有效）。\n"
                "需要绑定请回复「绑定 手机号」获取新的验证码；回复「诊断」查看绑定情况。")
    text = command_text(message, whole=True)
    hint = None if reads_as_question(line) else near_miss.suggestion(line, sender)
    if hint:
        return hint
    answer = faq_answer(text, sender)
    if answer:
        return answer
    if reads_as_question(text):
        return NO_ANSWER
    if sender.identity is None:
        return visitor_text()
    return "没有看懂您的消息。\n" + help_text(sender)


def register(robot) -> None:
    robot.add_handler(question_first, type="text")


def register_fallback(robot) -> None:
    for kind in ("text", "image", "voice", "video", "shortvideo", "location", "link", "unknown"):
        robot.add_handler(unknown, type=kind)


def warm_up() -> None:
    """Load the FAQ's dictionaries off the request path (a second of CPU once per process)."""
    threading.Thread(target=book, name="faq-warm-up", daemon=True).start()
