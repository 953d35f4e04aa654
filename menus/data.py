"""The menus of SPEC 7 as data. The account is the 24365 platform's: its own columns
(menus/account_columns.json, kept as data) stay in every menu, and fdy owns one column, 辅导员,
whose buttons depend on who looks: followers who are not bound get 登录绑定, 诊断, 帮助; counselors
and staff (selected by WeChat user tag) their role's buttons. The default menu plus one
conditional menu per role tag are pushed. CLICK keys are answered by the handlers
(handlers/menus.py maps the ones that stand for a chat command); VIEW URLs are built from
PUBLIC_BASE_URL and NEWS_URL.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

COUNSELOR_ROLE, STAFF_ROLE = "counselor", "staff"
# WeChat user tags that select the conditional menus (set on binding, removed on unbinding).
ROLE_TAGS = {COUNSELOR_ROLE: "辅导员", STAFF_ROLE: "工作人员"}

ACCOUNT_COLUMNS_FILE = Path(__file__).with_name("account_columns.json")
FDY_COLUMN = "辅导员"

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


def account_columns(config: Mapping, path: Path = ACCOUNT_COLUMNS_FILE) -> list[dict]:
    """The 24365 account's own columns, with {NEWS_URL} filled in."""
    columns = json.loads(path.read_text(encoding="utf-8"))["columns"]

    def fill(button: dict) -> dict:
        button = dict(button)
        if "url" in button:
            button["url"] = button["url"].replace("{NEWS_URL}", config["NEWS_URL"])
        if "sub_button" in button:
            button["sub_button"] = [fill(sub) for sub in button["sub_button"]]
        return button

    return [fill(column) for column in columns]


def default_buttons(config: Mapping) -> list[dict]:
    return [view("登录绑定", links(config)["login"]), click("诊断", KEY_DIAGNOSE), click("帮助", KEY_HELP)]


def counselor_buttons(config: Mapping) -> list[dict]:
    url = links(config)
    return [view("我的任务", url["tasks"]), view("就业进展", url["stats"]), click("毕业生", KEY_GRADUATES),
            click("诊断", KEY_DIAGNOSE), click("帮助", KEY_HELP)]


def staff_buttons(config: Mapping) -> list[dict]:
    return [click("任务", KEY_TASKS), click("触达", KEY_REACH), click("账号", KEY_ACCOUNTS),
            click("诊断", KEY_DIAGNOSE), click("帮助", KEY_HELP)]


def with_fdy_column(config: Mapping, buttons: list[dict]) -> list[dict]:
    """The account's columns, then fdy's column holding `buttons`."""
    return [*account_columns(config), {"name": FDY_COLUMN, "sub_button": buttons}]


def default_menu(config: Mapping) -> list[dict]:
    return with_fdy_column(config, default_buttons(config))


def counselor_menu(config: Mapping) -> list[dict]:
    return with_fdy_column(config, counselor_buttons(config))


def staff_menu(config: Mapping) -> list[dict]:
    return with_fdy_column(config, staff_buttons(config))


ROLE_MENUS = {COUNSELOR_ROLE: counselor_menu, STAFF_ROLE: staff_menu}
MENU_TITLES = {"default": "默认菜单", COUNSELOR_ROLE: "辅导员菜单", STAFF_ROLE: "工作人员菜单"}


def all_menus(config: Mapping) -> dict[str, list[dict]]:
    """{'default': buttons, 'counselor': buttons, 'staff': buttons}."""
    return {"default": default_menu(config), **{role: build(config) for role, build in ROLE_MENUS.items()}}
