"""Logging that never writes a full phone number (SPEC 10).

Masking happens when a record is made, so every handler (files, journald,
pytest's capture) sees the masked text whoever logged it.
"""
from __future__ import annotations

import logging

from models.privacy import mask_phone


def _masking_factory(base):
    def factory(*args, **kwargs):
        record = base(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:
            return record
        masked = mask_phone(message)
        if masked != message:
            record.msg, record.args = masked, None
        return record

    factory.fdy_masking = True
    return factory


def init_app(app) -> None:
    current = logging.getLogRecordFactory()
    if not getattr(current, "fdy_masking", False):
        logging.setLogRecordFactory(_masking_factory(current))
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    elif root.level > logging.INFO:
        root.setLevel(logging.INFO)
