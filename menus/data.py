"""The menus of SPEC 7 as data: a default menu for unbound users and one
conditional menu per role tag. CLICK keys are answered by the handlers
(handlers/menus.py maps the ones that stand for a chat command); VIEW URLs
are built from PUBLIC_BASE_URL and NEWS_URL.
"""
from __future__ import annotations

from typing import Mapping

COUNSELOR_ROLE, STAFF_ROLE = "counselor", "staff"
# WeChat user tags that select the conditional menus (set on binding, removed on unbinding).
ROLE_TAGS = {COUNSELOR_ROLE: "辅导员", STAFF_ROLE: "工作人员"}

KEY_HELP = "HELP"
KEY_DIAGNOSE = "DIAGNOSE"
KEY_BIND = "BIND"
KEY_TASKS = "TASKS"
KEY_REACH = "REACH"
KEY_ACCOUNTS = "ACCOUNTS"
KEY_GRADUATES = "GRADUATES"

# CLICK keys that stand for a chat command: the click is answered as if the text was sent.
CLICK_COMMANDS = {KEY_TASKS: "任务", KEY_REACH: "触达", KEY_ACCOUNTS: "账号", KEY_GRADUATES: "毕业生"}


def click(name: str, key: str) -> dict:
    return {"type": "click", "name": name, "key": key}


def view(name: str, url: str) -> dict:
    return {"type": "view", "name": name, "url": url}


def links(config: Mapping) -> dict:
    base = config["PUBLIC_BASE_URL"].rstrip("/")
    return {"login": base + "/auth/login", "stats": base + "/stats", "tasks": base + "/tasks/",
            "news": config["NEWS_URL"]}


def default_menu(config: Mapping) -> list[dict]:
    url = links(config)
    return [
        view("登录绑定", url["login"]),
        click("诊断", KEY_DIAGNOSE),
        {"name": "更多", "sub_button": [click("帮助", KEY_HELP), view("就业资讯", url["news"])]},
    ]


def counselor_menu(config: Mapping) -> list[dict]:
    url = links(config)
    return [
        view("我的任务", url["tasks"]),
        view("就业进展", url["stats"]),
        {"name": "更多", "sub_button": [
            click("毕业生", KEY_GRADUATES),
            click("诊断", KEY_DIAGNOSE),
            click("帮助", KEY_HELP),
            view("就业资讯", url["news"]),
            view("登录绑定", url["login"]),
        ]},
    ]


def staff_menu(config: Mapping) -> list[dict]:
    url = links(config)
    return [
        click("任务", KEY_TASKS),
        click("触达", KEY_REACH),
        {"name": "更多", "sub_button": [
            click("账号", KEY_ACCOUNTS),
            click("诊断", KEY_DIAGNOSE),
            click("帮助", KEY_HELP),
            view("登录绑定", url["login"]),
        ]},
    ]


ROLE_MENUS = {COUNSELOR_ROLE: counselor_menu, STAFF_ROLE: staff_menu}
MENU_TITLES = {"default": "默认菜单", COUNSELOR_ROLE: "辅导员菜单", STAFF_ROLE: "工作人员菜单"}


def all_menus(config: Mapping) -> dict[str, list[dict]]:
    """{'default': buttons, 'counselor': buttons, 'staff': buttons}."""
    return {"default": default_menu(config), **{role: build(config) for role, build in ROLE_MENUS.items()}}
