"""WeChat API client: one access token shared by every process through Redis.

requests' Session with a timeout on every call; errors raised as WeChatError
carrying errcode; an invalid token (40001/42001/40014) is dropped and the call
retried once with a fresh one.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid

import redis
import requests
from flask import Flask, current_app

from .store import get_redis

log = logging.getLogger(__name__)

TOKEN_KEY = "fdy:wechat:access_token"
TOKEN_LOCK_KEY = "fdy:wechat:access_token:lock"
# The JS-SDK's jsapi ticket: a grant like the token's (about 2 h, limited per day), shared alike.
TICKET_KEY = "fdy:wechat:jsapi_ticket"
TICKET_LOCK_KEY = "fdy:wechat:jsapi_ticket:lock"
TOKEN_ERRCODES = {40001, 42001, 40014}
# Refresh this long before WeChat's expiry so no call uses a dying token.
TOKEN_MARGIN = 300
# A process keeps its copy of the shared token until this long before the Redis key
# expires: one Redis read per token lifetime instead of one per call.
LOCAL_TOKEN_MARGIN = 30
# Connections kept to WeChat per process: at least as many as a web worker's threads can have
# in flight (gunicorn.conf.py), or the pages' OAuth code exchanges at a peak each open a new
# connection and urllib3 discards it afterwards (its default keeps 10).
HTTP_POOL = 64


class WeChatError(Exception):
    """WeChat answered with a non-zero errcode (or a transport failure: errcode None)."""

    def __init__(self, errcode: int | None, errmsg: str = "", path: str = ""):
        super().__init__(f"{path}: errcode={errcode} {errmsg}".strip())
        self.errcode = errcode
        self.errmsg = errmsg
        self.path = path

    @property
    def retryable(self) -> bool:
        """Worth trying again later: transport errors, 5xx, rate limits, system busy."""
        return self.errcode is None or self.errcode in {-1, 45009, 45047, 45011}


def _pooled_session() -> requests.Session:
    http = requests.Session()
    for prefix in ("https://", "http://"):
        http.mount(prefix, requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=HTTP_POOL))
    return http


class WeChatClient:
    def __init__(self, app_id: str, app_secret: str, api_base: str, redis_conn: redis.Redis,
                 timeout: float = 5.0, session: requests.Session | None = None):
        self.app_id = app_id
        self.app_secret = app_secret
        self.api_base = api_base.rstrip("/")
        self.redis = redis_conn
        self.timeout = timeout
        self.http = session or _pooled_session()
        # In-process copies of the shared grants: Redis key -> (value, monotonic time it stops being used).
        self._local: dict[str, tuple[str, float]] = {}
        self._local_lock = threading.Lock()

    # -- access token and jsapi ticket: grants shared by every process ------------------
    def access_token(self) -> str:
        return self._shared(TOKEN_KEY, TOKEN_LOCK_KEY, self._grant_token, "/cgi-bin/token")

    def jsapi_ticket(self) -> str:
        """The JS-SDK ticket (SPEC 9.2), renewed ahead of expiry like the token; a stale token
        on the ticket call is refreshed once (call())."""
        return self._shared(TICKET_KEY, TICKET_LOCK_KEY, self._grant_ticket, "/cgi-bin/ticket/getticket")

    def _grant_token(self) -> tuple[str, int]:
        data = self._get_json("/cgi-bin/token", params={
            "grant_type": "client_credential", "appid": self.app_id, "secret": self.app_secret,
        })
        return data["access_token"], int(data.get("expires_in", 7200))

    def _grant_ticket(self) -> tuple[str, int]:
        data = self.call("/cgi-bin/ticket/getticket", params={"type": "jsapi"}, method="GET")
        return data["ticket"], int(data.get("expires_in", 7200))

    def _shared(self, key: str, lock_key: str, grant, path: str) -> str:
        local = self._local.get(key)
        if local is not None and time.monotonic() < local[1]:
            return local[0]
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(key)
        pipe.pttl(key)
        value, pttl = pipe.execute()
        if value:
            value = value.decode()
            self._keep_local(key, value, pttl)
            return value
        value = self._refresh_shared(key, lock_key, grant, path)
        self._keep_local(key, value, self.redis.pttl(key))
        return value

    def _keep_local(self, key: str, value: str, pttl: int | None) -> None:
        """Remember the value until shortly before its Redis key expires (no TTL known: don't keep it)."""
        if pttl is None or pttl <= 0:
            return
        seconds = pttl / 1000.0 - LOCAL_TOKEN_MARGIN
        if seconds > 0:
            with self._local_lock:
                self._local[key] = (value, time.monotonic() + seconds)

    def _refresh_shared(self, key: str, lock_key: str, grant, path: str) -> str:
        """Fetch a grant with a lock held, so that all processes share one; kept until TOKEN_MARGIN
        before WeChat's expiry, so no call uses a dying one."""
        lock_value = uuid.uuid4().hex
        # A ticket grant may include a token grant and a retry: room for three calls.
        deadline = time.monotonic() + self.timeout * 3
        while True:
            if self.redis.set(lock_key, lock_value, nx=True, ex=int(self.timeout * 3) + 1):
                try:
                    value = self.redis.get(key)  # someone may have refreshed meanwhile
                    if value:
                        return value.decode()
                    value, expires_in = grant()
                    ttl = max(expires_in - TOKEN_MARGIN, 60)
                    self.redis.set(key, value, ex=ttl)
                    log.info("wechat %s refreshed, valid for %ss", path, ttl)
                    return value
                finally:
                    # Only release our own lock (compare-and-delete).
                    self.redis.eval(
                        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0",
                        1, lock_key, lock_value)
            value = self.redis.get(key)
            if value:
                return value.decode()
            if time.monotonic() > deadline:
                raise WeChatError(None, f"timed out waiting for the {key} lock", path)
            time.sleep(0.05)

    def forget_local_token(self) -> None:
        """Drop the in-process copies only (the next call reads Redis): for tests that reset WeChat."""
        with self._local_lock:
            self._local.clear()

    def invalidate_token(self, token: str) -> None:
        """Drop the cached token (ours and the shared one), unless it was already replaced."""
        with self._local_lock:
            if self._local.get(TOKEN_KEY, ("",))[0] == token:
                self._local.pop(TOKEN_KEY, None)
        self.redis.eval(
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0",
            1, TOKEN_KEY, token)

    # -- transport ------------------------------------------------------------
    def _get_json(self, path, params=None, method="GET", json_body=None) -> dict:
        url = self.api_base + path
        try:
            if method == "GET":
                resp = self.http.get(url, params=params, timeout=self.timeout)
            else:
                # ensure_ascii=False: WeChat shows \uXXXX escapes literally in some fields.
                resp = self.http.post(url, params=params, timeout=self.timeout,
                                      data=json.dumps(json_body, ensure_ascii=False).encode("utf-8"),
                                      headers={"Content-Type": "application/json; charset=utf-8"})
        except requests.RequestException as exc:
            # The type and the API path only: requests' text holds the URL, and with it the app
            # secret, the access token or an OAuth code (SPEC 10). No chained traceback either.
            raise WeChatError(None, type(exc).__name__, path) from None
        if resp.status_code >= 500:
            raise WeChatError(None, f"HTTP {resp.status_code}", path)
        try:
            data = resp.json()
        except ValueError:
            raise WeChatError(None, f"HTTP {resp.status_code}, not JSON", path) from None
        errcode = data.get("errcode", 0)
        if errcode:
            raise WeChatError(errcode, data.get("errmsg", ""), path)
        return data

    def call(self, path: str, json_body=None, params=None, method=None) -> dict:
        """Call a /cgi-bin API with the shared token; one retry on a stale token."""
        method = method or ("POST" if json_body is not None else "GET")
        for attempt in (1, 2):
            token = self.access_token()
            try:
                return self._get_json(path, params={**(params or {}), "access_token": token},
                                      method=method, json_body=json_body)
            except WeChatError as exc:
                if exc.errcode in TOKEN_ERRCODES and attempt == 1:
                    log.warning("wechat token rejected (%s), refreshing once", exc.errcode)
                    self.invalidate_token(token)
                    continue
                raise
        raise AssertionError("unreachable")

    # -- the calls fdy makes ------------------------------------------------------
    def send_template(self, openid: str, template_id: str, data: dict, url: str | None = None,
                      client_msg_id: str | None = None) -> dict:
        body = {"touser": openid, "template_id": template_id, "data": data}
        if url:
            body["url"] = url
        if client_msg_id:
            # WeChat drops a repeated client_msg_id: our last line against duplicates.
            body["client_msg_id"] = client_msg_id
        return self.call("/cgi-bin/message/template/send", body)

    def send_text(self, openid: str, content: str) -> dict:
        return self.call("/cgi-bin/message/custom/send",
                         {"touser": openid, "msgtype": "text", "text": {"content": content}})

    def create_menu(self, menu: dict) -> dict:
        return self.call("/cgi-bin/menu/create", menu)

    def add_conditional_menu(self, menu: dict) -> dict:
        return self.call("/cgi-bin/menu/addconditional", menu)

    def delete_menu(self) -> dict:
        return self.call("/cgi-bin/menu/delete", method="GET")

    def get_tags(self) -> list[dict]:
        return self.call("/cgi-bin/tags/get", method="GET").get("tags", [])

    def create_tag(self, name: str) -> dict:
        return self.call("/cgi-bin/tags/create", {"tag": {"name": name}})["tag"]

    def tag_users(self, tag_id: int, openids: list[str]) -> dict:
        return self.call("/cgi-bin/tags/members/batchtagging", {"openid_list": openids, "tagid": tag_id})

    def untag_users(self, tag_id: int, openids: list[str]) -> dict:
        return self.call("/cgi-bin/tags/members/batchuntagging", {"openid_list": openids, "tagid": tag_id})

    def user_info(self, openid: str) -> dict:
        return self.call("/cgi-bin/user/info", params={"openid": openid, "lang": "zh_CN"}, method="GET")

    def oauth_exchange(self, code: str) -> dict:
        """snsapi_base code -> {openid, ...}. Not a /cgi-bin call: no access token."""
        return self._get_json("/sns/oauth2/access_token", params={
            "appid": self.app_id, "secret": self.app_secret, "code": code, "grant_type": "authorization_code",
        })


def init_app(app: Flask) -> None:
    app.extensions["fdy.wechat"] = WeChatClient(
        app.config["WECHAT_APP_ID"], app.config["WECHAT_APP_SECRET"], app.config["WECHAT_API_BASE"],
        get_redis(app), timeout=float(app.config["HTTP_TIMEOUT"]),
    )


def get_client(app: Flask | None = None) -> WeChatClient:
    return (app or current_app).extensions["fdy.wechat"]
