"""Every one of the 51 real WeChat bodies in ../shared/corpus gets its answer."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parent / "data" / "wechat-messages.json"
ENTRIES = json.loads(CORPUS.read_text(encoding="utf-8"))


def test_corpus_is_complete():
    assert len(ENTRIES) == 51


@pytest.mark.parametrize("entry", ENTRIES, ids=[f"{i:02d}-{e['msgtype']}-{e['event'] or ''}" for i, e in
                                                 enumerate(ENTRIES)])
def test_corpus_body_answered(wechat, entry, caplog):
    with caplog.at_level(logging.WARNING):
        resp = wechat.post(entry["xml"])
    assert resp.status_code == 200, resp.text
    if entry["event"] == "subscribe":  # the greeting (also after a scene QR code)
        reply = wechat.parse(resp)
        assert reply.msg_type == "text" and "感谢关注" in reply.content, resp.text
    elif entry["event"]:  # every other event, device_event bodies included, is acknowledged
        assert resp.text == "success", resp.text
    else:
        reply = wechat.parse(resp)
        assert reply.msg_type == "text" and reply.content, f"no text reply for {entry['msgtype']}"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
