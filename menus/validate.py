"""WeChat's menu limits, checked before any call so a bad menu is reported in words that
name the offending button (第2个一级菜单「辅导员」的第6个子菜单) instead of an errcode."""
from __future__ import annotations

from urllib.parse import urlsplit

from .data import MENU_TITLES

MAX_TOP, MAX_SUB = 3, 5
MAX_TOP_NAME, MAX_SUB_NAME = 16, 60
MAX_KEY, MAX_URL = 128, 1024

CLICK_TYPES = {"click", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album",
               "pic_weixin", "location_select"}
LEAF_TYPES = CLICK_TYPES | {"view", "miniprogram", "media_id", "view_limited", "article_id",
                            "article_view_limited"}


class MenuError(ValueError):
    """A menu that WeChat would refuse; `errors` lists every problem with its path."""

    def __init__(self, errors: list[str]):
        super().__init__("；".join(errors))
        self.errors = errors


def _bytes(value) -> int:
    return len(value.encode("utf-8")) if isinstance(value, str) else 0


def _label(button, position: str) -> str:
    """'第2个一级菜单「辅导员」': where a button is, in the words of WeChat's admin console."""
    name = button.get("name") if isinstance(button, dict) else None
    return position + (f"「{name}」" if isinstance(name, str) and name.strip() else "")


def _check_name(button: dict, path: str, limit: int, errors: list[str]) -> None:
    name = button.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(f"{path}：名称不能为空")
    elif _bytes(name) > limit:
        errors.append(f"{path}：名称超过{limit}字节（「{name}」为{_bytes(name)}字节，一个汉字3字节）")


def _check_leaf(button: dict, path: str, errors: list[str]) -> None:
    kind = button.get("type")
    if kind not in LEAF_TYPES:
        errors.append(f"{path}：不支持的按钮类型「{kind}」" if kind else f"{path}：缺少按钮类型")
        return
    if kind in CLICK_TYPES:
        key = button.get("key")
        if not isinstance(key, str) or not key:
            errors.append(f"{path}：点击按钮缺少按钮标识（key）")
        elif _bytes(key) > MAX_KEY:
            errors.append(f"{path}：按钮标识（key）超过{MAX_KEY}字节（{_bytes(key)}字节）")
    if kind == "view":
        url = button.get("url")
        if not isinstance(url, str) or not url:
            errors.append(f"{path}：链接按钮缺少网址")
        elif _bytes(url) > MAX_URL:
            errors.append(f"{path}：网址超过{MAX_URL}字节（{_bytes(url)}字节）")
        elif urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            errors.append(f"{path}：网址须以 http:// 或 https:// 开头")


def menu_errors(buttons) -> list[str]:
    """Every problem of a menu's `button` list, each saying which button, in words:
    '第2个一级菜单「更多」的第6个子菜单「子5」：超过5个子菜单'."""
    errors: list[str] = []
    if not isinstance(buttons, list) or not buttons:
        return ["菜单至少需要1个一级菜单"]
    for i, button in enumerate(buttons):
        path = _label(button, f"第{i + 1}个一级菜单")
        if i >= MAX_TOP:
            errors.append(f"{path}：一级菜单最多{MAX_TOP}个")
            continue
        if not isinstance(button, dict):
            errors.append(f"{path}：不是按钮")
            continue
        _check_name(button, path, MAX_TOP_NAME, errors)
        subs = button.get("sub_button")
        if subs:
            if not isinstance(subs, list):
                errors.append(f"{path}：子菜单须为按钮列表")
                continue
            if button.get("type"):
                errors.append(f"{path}：有子菜单的一级菜单不能再设按钮类型")
            for j, sub in enumerate(subs):
                sub_path = _label(sub, f"{path}的第{j + 1}个子菜单")
                if j >= MAX_SUB:
                    errors.append(f"{sub_path}：每个一级菜单最多{MAX_SUB}个子菜单")
                    continue
                if not isinstance(sub, dict):
                    errors.append(f"{sub_path}：不是按钮")
                    continue
                if sub.get("sub_button"):
                    errors.append(f"{sub_path}：子菜单下不能再有子菜单")
                _check_name(sub, sub_path, MAX_SUB_NAME, errors)
                _check_leaf(sub, sub_path, errors)
        else:
            _check_leaf(button, path, errors)
    return errors


def validate_menus(menus: dict[str, list]) -> None:
    """Raise MenuError listing the problems of every menu, each prefixed with its menu's title."""
    errors = [f"{MENU_TITLES.get(name, name)}：{problem}" for name, buttons in menus.items()
              for problem in menu_errors(buttons)]
    if errors:
        raise MenuError(errors)
