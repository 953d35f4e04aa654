"""In-memory state of the WeChat simulator, guarded by one lock."""
from __future__ import annotations

import copy
import secrets
import threading
import time

from .faults import FaultRules

RECEIPT_STATUSES = ("success", "failed:user block", "failed: system failed")

DEFAULT_TOKEN = "simtoken"
DEFAULT_APP_ID = "wxsim0000000000001"
DEFAULT_APP_SECRET = "simsecret0000000000000000000001"
DEFAULT_ORIGINAL_ID = "gh_fdysim000001"

OAUTH_CODE_TTL = 300
TOKEN_TTL = 7200


def new_openid() -> str:
    # "o" + 27 url-safe chars, like real openids (28 chars in total).
    return "o" + secrets.token_urlsafe(21)[:27]


class SimState(FaultRules):
    """Everything the simulator remembers. All access goes through ``lock``."""

    def __init__(self, token=DEFAULT_TOKEN, app_id=DEFAULT_APP_ID,
                 app_secret=DEFAULT_APP_SECRET, aes_key=None, app_url=None,
                 receipts=False, receipt_delay=0.2, original_id=DEFAULT_ORIGINAL_ID,
                 encrypt_events=None):
        self.lock = threading.RLock()
        self.token = token
        self.app_id = app_id
        self.app_secret = app_secret
        self.aes_key = aes_key or None
        if self.aes_key:
            from werobot.crypto import MessageCrypt
            try:
                MessageCrypt(token, self.aes_key, app_id)
            except Exception as exc:  # UnvalidEncodingAESKey, binascii.Error
                raise ValueError("aes_key must be a 43-character EncodingAESKey") from exc
        self.app_url = app_url.rstrip("/") if app_url else None
        self.receipts = bool(receipts)
        self.receipt_delay = float(receipt_delay)
        self.original_id = original_id
        # Receipts/events pushed by the simulator on its own are encrypted when
        # this is true (default: when an AES key is configured).
        self.encrypt_events = encrypt_events
        # Configuration like the app id, so a reset keeps them: the account's template definitions.
        from .templates import load_defaults
        self.templates: dict[str, dict] = load_defaults()
        self.reset()

    # ------------------------------------------------------------------ reset
    def reset(self):
        with self.lock:
            self.users: dict[str, dict] = {}
            self.calls: list[dict] = []
            self.call_seq = 0
            self.current_token: str | None = None
            self.token_expires_at = 0.0
            self.token_grants = 0
            self.stable_token: str | None = None
            self.jsapi_ticket: str | None = None
            self.tickets: set[str] = set()      # every ticket granted (a page may hold an older one)
            self.ticket_grants = 0
            self.shares: list[dict] = []         # share cards pages gave the stand-in JS-SDK
            self.menu: dict | None = None
            self.menu_id = 0
            self.conditional_menus: list[dict] = []
            self.next_menuid = 400000000
            self.tags: dict[int, dict] = {}
            self.next_tag_id = 100
            self.inbox: list[dict] = []          # every message, global seq order
            self.msg_seq = 0
            self.next_msgid = 2_000_000_000
            self.client_msg_ids: dict[str, int] = {}
            self.deliveries = 0
            self.duplicates = 0
            self.custom_deliveries = 0
            self.faults: list[dict] = []
            self.fault_seq = 0
            self.sms: list[dict] = []
            self.sms_seq = 0
            self.oauth_codes: dict[str, dict] = {}
            self.sns_tokens: dict[str, dict] = {}
            self.receipt_log: list[dict] = []
            self.sent_log: list[dict] = []       # /_sim/send results

    # ------------------------------------------------------------------ config
    def config(self) -> dict:
        with self.lock:
            return {
                "token": self.token,
                "app_id": self.app_id,
                "app_secret": self.app_secret,
                "aes_key": self.aes_key,
                "has_aes_key": bool(self.aes_key),
                "app_url": self.app_url,
                "receipts": self.receipts,
                "receipt_delay": self.receipt_delay,
                "original_id": self.original_id,
                "encrypt_events": self.events_encrypted(),
            }

    def events_encrypted(self) -> bool:
        if self.encrypt_events is None:
            return bool(self.aes_key)
        return bool(self.encrypt_events and self.aes_key)

    def update_config(self, data: dict):
        with self.lock:
            if "app_url" in data:
                url = data["app_url"]
                self.app_url = url.rstrip("/") if url else None
            if "receipts" in data:
                self.receipts = bool(data["receipts"])
            if "receipt_delay" in data:
                self.receipt_delay = float(data["receipt_delay"])
            if "encrypt_events" in data:
                v = data["encrypt_events"]
                self.encrypt_events = None if v is None else bool(v)
            return self.config()

    # ------------------------------------------------------------------ users
    def add_user(self, openid=None, nickname=None, subscribe=True, receipt="success"):
        if receipt not in RECEIPT_STATUSES:
            raise ValueError(f"receipt must be one of {RECEIPT_STATUSES}")
        with self.lock:
            openid = openid or new_openid()
            user = self.users.get(openid)
            now = int(time.time())
            if user is None:
                user = {
                    "openid": openid,
                    "nickname": nickname or f"微信用户{len(self.users) + 1}",
                    "subscribe": bool(subscribe),
                    "subscribe_time": now if subscribe else 0,
                    "receipt": receipt,
                    "tagid_list": [],
                    "created": now,
                    # last message/event from the user (customer-service 48 h window)
                    "last_interaction": now if subscribe else 0,
                }
                self.users[openid] = user
            else:
                if nickname:
                    user["nickname"] = nickname
                self._set_subscribe(user, subscribe)
                user["receipt"] = receipt
            return copy.deepcopy(user)

    def _set_subscribe(self, user, subscribe):
        subscribe = bool(subscribe)
        if subscribe and not user["subscribe"]:
            user["subscribe_time"] = int(time.time())
            user["last_interaction"] = int(time.time())
        if not subscribe:
            # Unfollowing drops the user's tags, as WeChat does.
            user["tagid_list"] = []
        user["subscribe"] = subscribe

    def update_user(self, openid, **changes):
        with self.lock:
            user = self.users.get(openid)
            if user is None:
                return None
            if "subscribe" in changes and changes["subscribe"] is not None:
                self._set_subscribe(user, changes["subscribe"])
            if changes.get("receipt") is not None:
                if changes["receipt"] not in RECEIPT_STATUSES:
                    raise ValueError(f"receipt must be one of {RECEIPT_STATUSES}")
                user["receipt"] = changes["receipt"]
            if changes.get("last_interaction") is not None:
                user["last_interaction"] = int(changes["last_interaction"])
            if changes.get("nickname"):
                user["nickname"] = changes["nickname"]
            return copy.deepcopy(user)

    def touch_user(self, openid):
        with self.lock:
            user = self.users.get(openid)
            if user is not None:
                user["last_interaction"] = int(time.time())

    def get_user(self, openid):
        with self.lock:
            u = self.users.get(openid)
            return copy.deepcopy(u) if u else None

    def list_users(self):
        with self.lock:
            return [copy.deepcopy(u) for u in self.users.values()]

    # ------------------------------------------------------------------ calls
    def record_call(self, method, path, query, body, status, response, **extra):
        with self.lock:
            self.call_seq += 1
            rec = {
                "seq": self.call_seq,
                "time": time.time(),
                "method": method,
                "path": path,
                "query": dict(query or {}),
                "json": body,
                "status": status,
                "response": response,
            }
            rec.update(extra)
            self.calls.append(rec)
            return rec

    def list_calls(self, path=None, since=0):
        with self.lock:
            return [copy.deepcopy(c) for c in self.calls
                    if c["seq"] > since and (not path or c["path"].startswith(path))]

    def stats(self):
        with self.lock:
            paths: dict[str, int] = {}
            for c in self.calls:
                paths[c["path"]] = paths.get(c["path"], 0) + 1
            return {
                "paths": paths,
                "calls": len(self.calls),
                "token_grants": self.token_grants,
                "ticket_grants": self.ticket_grants,
                "deliveries": self.deliveries,
                "duplicates": self.duplicates,
                "custom_deliveries": self.custom_deliveries,
                "receipts_sent": len(self.receipt_log),
                "sms": len(self.sms),
                "users": len(self.users),
                "faults_active": len(self.faults),
            }

    # ------------------------------------------------------------------ tokens
    def grant_token(self):
        with self.lock:
            tok = secrets.token_urlsafe(96)[:128]
            self.current_token = tok
            self.token_expires_at = time.time() + TOKEN_TTL
            self.token_grants += 1
            return tok

    def token_status(self, tok):
        """'ok', 'expired' or 'invalid'."""
        with self.lock:
            if not tok or tok != self.current_token:
                return "invalid"
            if time.time() > self.token_expires_at:
                return "expired"
            return "ok"

    def grant_ticket(self):
        """A new jsapi ticket (the previous one stays valid, as WeChat's does for a while)."""
        with self.lock:
            self.jsapi_ticket = secrets.token_urlsafe(64)[:86]
            self.tickets.add(self.jsapi_ticket)
            self.ticket_grants += 1
            return self.jsapi_ticket

    def check_jssdk_signature(self, app_id, noncestr, timestamp, url, signature) -> bool:
        """What wx.config() asks WeChat: was this page signed with one of our tickets?"""
        import hashlib

        with self.lock:
            if app_id != self.app_id:
                return False
            for ticket in self.tickets:
                raw = f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}"
                if hashlib.sha1(raw.encode("utf-8")).hexdigest() == signature:
                    return True
            return False

    def add_share(self, card: dict) -> dict:
        with self.lock:
            card = dict(card, seq=len(self.shares) + 1, time=time.time())
            self.shares.append(card)
            return copy.deepcopy(card)

    def list_shares(self, since=0, openid=None):
        with self.lock:
            return [copy.deepcopy(c) for c in self.shares
                    if c["seq"] > since and (not openid or c.get("openid") in (openid, ""))]

    def invalidate_token(self):
        with self.lock:
            self.current_token = None
            self.stable_token = None

    # ------------------------------------------------------------------ inbox
    def add_message(self, openid, kind, **fields):
        with self.lock:
            self.msg_seq += 1
            msg = {"seq": self.msg_seq, "openid": openid, "kind": kind, "time": time.time()}
            msg.update(fields)
            self.inbox.append(msg)
            return dict(msg)

    def list_messages(self, openid, since=0, kinds=None):
        with self.lock:
            return [copy.deepcopy(m) for m in self.inbox
                    if m["openid"] == openid and m["seq"] > since
                    and (kinds is None or m["kind"] in kinds)]

    def new_msgid(self):
        with self.lock:
            self.next_msgid += 1
            return self.next_msgid

    # ------------------------------------------------------------------ sms
    def add_sms(self, phone, content):
        with self.lock:
            self.sms_seq += 1
            item = {"seq": self.sms_seq, "phone": phone, "content": content, "time": time.time()}
            self.sms.append(item)
            return dict(item)

    def list_sms(self, since=0, phone=None):
        with self.lock:
            return [dict(s) for s in self.sms
                    if s["seq"] > since and (not phone or s["phone"] == phone)]

    # ------------------------------------------------------------------ menus
    def button_name(self, openid, event, key):
        """The name of the menu button a CLICK (by key) or VIEW (by url) came from, or None."""
        menu = self.menu_for(openid) if event in ("CLICK", "VIEW") else None
        field = "key" if event == "CLICK" else "url"
        for top in (menu or {}).get("button", []):
            for button in top.get("sub_button") or [top]:
                if key and button.get(field) == key:
                    return button.get("name")
        return None

    def menu_for(self, openid):
        """The menu a user sees: newest conditional menu matching one of its
        tags, else the default menu, else None."""
        with self.lock:
            user = self.users.get(openid)
            tags = {str(t) for t in (user["tagid_list"] if user else [])}
            for m in reversed(self.conditional_menus):
                tag = m["matchrule"].get("tag_id")
                if tag is None or str(tag) == "":
                    continue
                if str(tag) in tags:
                    return {"button": copy.deepcopy(m["button"]), "menuid": m["menuid"],
                            "conditional": True, "matchrule": dict(m["matchrule"])}
            if self.menu is not None:
                return {"button": copy.deepcopy(self.menu["button"]), "menuid": self.menu_id,
                        "conditional": False}
            return None
