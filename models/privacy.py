"""How much of a person others may see (SPEC 10: phones masked in replies and logs)."""
from __future__ import annotations

import re

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")


def mask_phone(text: str) -> str:
    """138****0000 for every mobile number in `text`."""
    return _PHONE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text or "")


def phone_tail(phone: str) -> str:
    return (phone or "")[-4:]


def is_mobile(phone: str) -> bool:
    return bool(PHONE_RE.match(phone or ""))
