"""Student links (SPEC 3): one per counselor and task, signed with SECRET_KEY.

`/share/<token>`: the token carries [task id, counselor id] and a signature, so a link
cannot be guessed or bent to another task or counselor, and each counselor's forwards are
counted apart. Links made before there was a counselor in them carry the task id alone
(another salt); they keep opening the student page, counted for nobody.
"""
from __future__ import annotations

import functools

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

LINK_SALT = "fdy-student-link"
OLD_SALT = "fdy-share-task"


def _serializer(salt: str) -> URLSafeSerializer:
    # Signed with SECRET_KEY (the last key), also read with the former ones: a rotated key must
    # not break the links counselors already forwarded.
    keys = [*(current_app.config.get("SECRET_KEY_FALLBACKS") or ()), current_app.config["SECRET_KEY"]]
    return URLSafeSerializer(keys, salt=salt)


def link_token(task_id: int, account_id: int) -> str:
    cfg = current_app.config
    return _link_token((*(cfg.get("SECRET_KEY_FALLBACKS") or ()), cfg["SECRET_KEY"]), task_id, account_id)


@functools.lru_cache(maxsize=65536)
def _link_token(keys: tuple, task_id: int, account_id: int) -> str:
    # A signature depends on nothing else: a counselor's page opened again reuses it.
    return URLSafeSerializer(list(keys), salt=LINK_SALT).dumps([task_id, account_id])


def old_token(task_id: int) -> str:
    """The task-only token of the first student links (still honoured by read_token)."""
    return _serializer(OLD_SALT).dumps(task_id)


def student_link(task_id: int, account_id: int) -> str:
    """The absolute student link of a counselor's task, as sent to users."""
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/share/{link_token(task_id, account_id)}"


def read_token(token: str) -> tuple[int, int | None] | None:
    """(task id, counselor id or None for an old link), or None for anything not signed by us."""
    if len(token) > 200:
        return None
    cfg = current_app.config
    return _read_token((*(cfg.get("SECRET_KEY_FALLBACKS") or ()), cfg["SECRET_KEY"]), token)


@functools.lru_cache(maxsize=16384)
def _read_token(keys: tuple, token: str) -> tuple[int, int | None] | None:
    # A link's students open it again and again; what it says depends on the keys alone.
    serializer = functools.partial(URLSafeSerializer, list(keys))
    try:
        value = serializer(salt=LINK_SALT).loads(token)
    except BadSignature:
        value = None
    if isinstance(value, list) and len(value) == 2 and all(type(x) is int for x in value):
        return value[0], value[1]
    try:
        value = serializer(salt=OLD_SALT).loads(token)
    except BadSignature:
        return None
    return (value, None) if type(value) is int else None
