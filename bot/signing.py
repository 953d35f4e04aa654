"""WeChat request signatures and safe-mode (AES) message crypto, decided per request."""
from __future__ import annotations

import hashlib
import hmac

from werobot.crypto import MessageCrypt


def signature(token: str, *parts: str) -> str:
    """WeChat's signature: sha1 of the sorted parts joined."""
    return hashlib.sha1("".join(sorted([token, *parts])).encode("utf-8")).hexdigest()


def signature_ok(expected: str, given: str | None) -> bool:
    # Constant time: the comparison must not leak how many leading characters match.
    return bool(given) and hmac.compare_digest(expected.encode(), given.encode())


def message_crypt(token: str, aes_key: str, app_id: str) -> MessageCrypt:
    """A fresh crypto object for one request (WeRoBot's cached one makes safe mode sticky)."""
    return MessageCrypt(token=token, encoding_aes_key=aes_key, app_id=app_id)
