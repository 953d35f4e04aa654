"""The tests' own WeChat message signing and AES (safe mode) encryption.

Written from WeChat's published algorithm, independently of WeRoBot and of
bot/, and checked against a published sample vector in test_wechat_crypto.py.
"""
from __future__ import annotations

import base64
import hashlib
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def _key(aes_key: str) -> bytes:
    key = base64.b64decode(aes_key + "=")
    assert len(key) == 32
    return key


def encrypt(plain_xml: str, aes_key: str, app_id: str, random16: bytes | None = None) -> str:
    key = _key(aes_key)
    body = plain_xml.encode("utf-8")
    data = (random16 or os.urandom(16)) + struct.pack(">I", len(body)) + body + app_id.encode()
    pad = 32 - len(data) % 32  # WeChat's PKCS#7 uses a 32-byte block
    data += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(data) + enc.finalize()).decode()


def decrypt(encrypted: str, aes_key: str) -> tuple[str, str]:
    """(xml, app_id)"""
    key = _key(aes_key)
    dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    data = dec.update(base64.b64decode(encrypted)) + dec.finalize()
    data = data[: -data[-1]]
    length = struct.unpack(">I", data[16:20])[0]
    return data[20: 20 + length].decode("utf-8"), data[20 + length:].decode()
