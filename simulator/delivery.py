"""Pushing messages and events from the simulated WeChat to the app's /wechat."""
from __future__ import annotations

import secrets
import threading
import time

import requests

from . import signing

PUSH_TIMEOUT = 5.0  # WeChat waits 5 s for the server's answer


def _post(state, xml: str, openid: str, encrypted: bool, timestamp=None, nonce=None,
          bad_signature=False, timeout=PUSH_TIMEOUT) -> dict:
    """POST one XML message to APP_URL/wechat, signed like WeChat. Returns a
    result dict (status, raw, reply_type, content, elapsed_ms, error...)."""
    with state.lock:
        app_url = state.app_url
        token, aes_key, app_id = state.token, state.aes_key, state.app_id
        original_id = state.original_id
    result = {"status": None, "reply_type": None, "content": None, "raw": "",
              "elapsed_ms": 0, "encrypted": bool(encrypted), "error": None}
    if not app_url:
        result["error"] = "simulator has no app_url"
        return result
    if encrypted:
        if not aes_key:
            result["error"] = "simulator has no AES key"
            return result
        params, body = signing.signed_encrypted(token, aes_key, app_id, xml, to_user=original_id,
                                                openid=openid, timestamp=timestamp, nonce=nonce)
    else:
        params, body = signing.signed_plain(token, xml, openid=openid,
                                            timestamp=timestamp, nonce=nonce)
    if bad_signature:
        params["signature"] = "0" * 40
        if "msg_signature" in params:
            params["msg_signature"] = "0" * 40
    result["query"] = dict(params)
    started = time.monotonic()
    try:
        resp = requests.post(app_url + "/wechat", params=params, data=body, timeout=timeout,
                             headers={"Content-Type": "text/xml; charset=utf-8",
                                      "User-Agent": "Mozilla/4.0 (fdy WeChat simulator)"})
    except requests.Timeout:
        result["elapsed_ms"] = int((time.monotonic() - started) * 1000)
        result["error"] = f"timeout: no answer within {timeout:g} s"
        return result
    except requests.RequestException as exc:
        result["elapsed_ms"] = int((time.monotonic() - started) * 1000)
        result["error"] = f"connection failed: {exc.__class__.__name__}"
        return result
    result["elapsed_ms"] = int((time.monotonic() - started) * 1000)
    result["status"] = resp.status_code
    raw = resp.content.decode("utf-8", errors="replace")
    result["raw"] = raw
    text = raw.strip()
    if resp.status_code != 200:
        result["error"] = f"HTTP {resp.status_code}"
        return result
    if not text or text == "success":
        return result  # no passive reply
    try:
        if encrypted:
            plain = signing.decrypt_reply(token, aes_key, app_id, text)
            result["decrypted"] = plain
            text = plain
        parsed = signing.parse_reply(text)
    except Exception as exc:  # noqa: BLE001 - report, never crash
        result["error"] = f"unreadable reply: {exc.__class__.__name__}: {exc}"
        return result
    result.update({k: v for k, v in parsed.items() if k != "fields"})
    result["reply_fields"] = parsed["fields"]
    if parsed["to_user"] != openid or parsed["from_user"] != original_id:
        result["warning"] = ("reply ToUserName/FromUserName do not match the message "
                             "(WeChat would show nothing)")
    return result


def build_message_xml(state, openid, text=None, event=None, event_key=None,
                      msg_id=None, create_time=None, extra=None):
    create_time = int(create_time if create_time is not None else time.time())
    fields = [("ToUserName", state.original_id), ("FromUserName", openid),
              ("CreateTime", create_time)]
    if event:
        fields.append(("MsgType", "event"))
        fields.append(("Event", event))
        if event_key is not None or event in ("CLICK", "VIEW"):
            fields.append(("EventKey", event_key or ""))
        msg_id = None
    else:
        msg_id = int(msg_id) if msg_id is not None else secrets.randbits(63) | (1 << 62)
        fields.append(("MsgType", "text"))
        fields.append(("Content", text or ""))
        fields.append(("MsgId", msg_id))
    for k, v in (extra or {}).items():
        fields.append((k, v))
    return signing.build_xml(fields), msg_id, create_time


def send_from_user(state, openid, text=None, event=None, event_key=None, encrypted=False,
                   msg_id=None, create_time=None, timestamp=None, nonce=None,
                   bad_signature=False, record=True, timeout=PUSH_TIMEOUT) -> dict:
    """What happens when a WeChat user types a message or taps something."""
    if event == "subscribe":
        if state.get_user(openid) is None:
            state.add_user(openid)
        state.update_user(openid, subscribe=True)
    elif event == "unsubscribe":
        if state.get_user(openid) is None:
            state.add_user(openid, subscribe=False)
        state.update_user(openid, subscribe=False)
    elif state.get_user(openid) is None:
        state.add_user(openid)
    state.touch_user(openid)

    xml, used_msg_id, used_ct = build_message_xml(state, openid, text=text, event=event,
                                                  event_key=event_key, msg_id=msg_id,
                                                  create_time=create_time)
    out = {"text": text, "event": event, "event_key": event_key, "msg_id": used_msg_id,
           "create_time": used_ct, "encrypted": bool(encrypted),
           "label": state.button_name(openid, event, event_key)}
    if record:
        state.add_message(openid, "out", **out)
    result = _post(state, xml, openid, encrypted, timestamp=timestamp, nonce=nonce,
                   bad_signature=bad_signature, timeout=timeout)
    result.update({"openid": openid, "msg_id": used_msg_id, "create_time": used_ct,
                   "xml": xml})
    if record:
        if result.get("error"):
            state.add_message(openid, "error", text=result["error"], status=result["status"])
        elif result.get("reply_type"):
            state.add_message(openid, "reply", reply_type=result["reply_type"],
                              content=result.get("content"), articles=result.get("articles"))
    with state.lock:
        state.sent_log.append({k: v for k, v in result.items() if k != "xml"})
    return result


def schedule_receipt(state, openid, msgid, status):
    """TEMPLATESENDJOBFINISH, a moment later, from a background thread."""
    with state.lock:
        if not state.receipts or not state.app_url:
            return
        delay = state.receipt_delay

    def run():
        if delay > 0:
            time.sleep(delay)
        with state.lock:
            encrypted = state.events_encrypted()
        xml, _, ct = build_message_xml(state, openid, event="TEMPLATESENDJOBFINISH",
                                       extra={"MsgID": int(msgid), "Status": status})
        res = _post(state, xml, openid, encrypted)
        with state.lock:
            state.receipt_log.append({"openid": openid, "msgid": msgid, "status": status,
                                      "http_status": res.get("status"),
                                      "error": res.get("error"), "time": time.time()})

    threading.Thread(target=run, name=f"sim-receipt-{msgid}", daemon=True).start()


def verify_url(state, timeout=PUSH_TIMEOUT) -> dict:
    """WeChat's server configuration check (GET with echostr)."""
    with state.lock:
        app_url, token = state.app_url, state.token
    params, _ = signing.signed_plain(token, "")
    echostr = str(secrets.randbits(62))
    params["echostr"] = echostr
    try:
        resp = requests.get(app_url + "/wechat", params=params, timeout=timeout)
    except requests.RequestException as exc:
        return {"ok": False, "status": None, "body": "", "error": exc.__class__.__name__}
    body = resp.text
    return {"ok": resp.status_code == 200 and body.strip() == echostr,
            "status": resp.status_code, "body": body[:500], "echostr": echostr}
