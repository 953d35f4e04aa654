"""Settings from the environment (SPEC 9.1).

Nothing here reads the environment at import time: `load_config()` builds a
config object when `create_app` asks for one, and `check()` refuses to start
with settings that would only fail later, in front of a user.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

import click

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_NEWS_URL = "https://www.ncss.cn/"


class ConfigError(click.ClickException, RuntimeError):
    """Settings that cannot work; the message names each variable.

    A ClickException, so that any `flask --app wsgi …` command (whose import of wsgi.py builds
    the app) stops with the list and exit status 1 instead of a traceback.
    """

    exit_code = 1

    def __init__(self, found: list[str] | str):
        self.problems = [found] if isinstance(found, str) else list(found)
        super().__init__(format_problems(self.problems))


def format_problems(found: list[str]) -> str:
    return "配置不可用（configuration refused）：\n" + "\n".join(f"  ✘ {line}" for line in found)


def _env_str(env, name, default=None):
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _env_int(env, name, default):
    value = _env_str(env, name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from exc


def _env_bool(env, name, default):
    value = _env_str(env, name)
    if value is None:
        return default
    return value.lower() in {"1", "true", "yes", "on"}


@dataclass
class Config:
    """Every setting the app reads. Field names are the Flask config keys."""

    ENV_NAME: str = "production"
    TESTING: bool = False
    DATABASE_URL: str = ""
    REDIS_URL: str = "redis://127.0.0.1:6379/0"
    WECHAT_TOKEN: str | None = None
    WECHAT_APP_ID: str | None = None
    WECHAT_APP_SECRET: str | None = None
    WECHAT_AES_KEY: str | None = None
    WECHAT_API_BASE: str = "https://api.weixin.qq.com"
    WECHAT_OAUTH_BASE: str = "https://open.weixin.qq.com"
    PUBLIC_BASE_URL: str = "http://127.0.0.1:5000"
    TEMPLATE_TASK_ID: str | None = None
    TEMPLATE_REMINDER_ID: str | None = None
    SMS_BACKEND: str = "console"
    SMS_HTTP_URL: str | None = None
    SECRET_KEY: str | None = None
    NEWS_URL: str = DEFAULT_NEWS_URL
    WECHAT_REQUIRE_AES: bool = False

    # Operational knobs (not part of SPEC 9.1; defaults are what production wants).
    WEBHOOK_MAX_BODY: int = 64 * 1024
    WEBHOOK_MAX_CLOCK_SKEW: int = 300
    DEDUPE_TTL: int = 600
    HTTP_TIMEOUT: float = 5.0
    SQL_ECHO: bool = False
    RQ_QUEUE_PREFIX: str = ""
    # The JS-SDK script the counselor's task page loads; empty: WeChat's own, or the same path
    # on WECHAT_API_BASE when that is not WeChat (the simulator serves a stand-in there).
    WECHAT_JSSDK_URL: str = ""
    # Seconds a student open waits in Redis before its batch is written (jobs/reach.py).
    REACH_FLUSH_DELAY: float = 2.0
    # Former SECRET_KEYs, comma-separated: still accepted (never used to sign) after a rotation,
    # so that page sessions and student links already forwarded keep working (docs/OPERATIONS.md).
    SECRET_KEY_FALLBACKS: str = ""
    # "text" or "json" (one JSON object per line, with the request or job id: bot/logging_setup.py).
    LOG_FORMAT: str = "text"

    def as_flask_config(self) -> dict:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        # Flask wants a list here (it verifies page sessions with each).
        values["SECRET_KEY_FALLBACKS"] = [k.strip() for k in (self.SECRET_KEY_FALLBACKS or "").split(",") if k.strip()]
        return values


def load_config(env: dict | None = None, **overrides) -> Config:
    """Build a Config from `env` (default: os.environ) plus explicit overrides."""
    env = os.environ if env is None else env
    env_name = _env_str(env, "FDY_ENV", "production")
    cls = {"development": DevelopmentConfig, "testing": TestingConfig}.get(env_name, Config)
    cfg = cls()
    for f in fields(Config):
        if f.name in {"ENV_NAME", "TESTING"}:
            continue
        default = getattr(cfg, f.name)
        if isinstance(default, bool):
            value = _env_bool(env, f.name, default)
        elif isinstance(default, int):
            value = _env_int(env, f.name, default)
        elif isinstance(default, float):
            raw = _env_str(env, f.name)
            value = float(raw) if raw is not None else default
        else:
            value = _env_str(env, f.name, default)
        setattr(cfg, f.name, value)
    for key, value in overrides.items():
        if not hasattr(cfg, key):
            raise ConfigError(f"unknown setting {key}")
        setattr(cfg, key, value)
    if not cfg.DATABASE_URL:
        cfg.DATABASE_URL = default_database_url()
    if not cfg.WECHAT_JSSDK_URL:
        cfg.WECHAT_JSSDK_URL = jssdk_script_url(cfg.WECHAT_API_BASE)
    return cfg


WECHAT_API = "https://api.weixin.qq.com"
JSSDK_PATH = "/open/js/jweixin-1.6.0.js"


def jssdk_script_url(api_base: str) -> str:
    if api_base.rstrip("/") == WECHAT_API:
        return "https://res.wx.qq.com" + JSSDK_PATH
    return api_base.rstrip("/") + JSSDK_PATH


def default_database_url() -> str:
    instance = PROJECT_ROOT / "instance"
    return f"sqlite:///{instance / 'fdy.db'}"


@dataclass
class DevelopmentConfig(Config):
    ENV_NAME: str = "development"


@dataclass
class TestingConfig(Config):
    ENV_NAME: str = "testing"
    TESTING: bool = True
    WECHAT_TOKEN: str | None = "test-token"
    WECHAT_APP_ID: str | None = "wxtestappid0000000"
    WECHAT_APP_SECRET: str | None = "test-secret"
    SECRET_KEY: str | None = "test-secret-key"
    TEMPLATE_TASK_ID: str | None = "tpl-task"
    TEMPLATE_REMINDER_ID: str | None = "tpl-reminder"
    HTTP_TIMEOUT: float = 2.0


# Values that mean "nobody set this": the demo's, the tests', or an example's.
PLACEHOLDER_SECRET_KEYS = {"dev-only-secret", "test-secret-key", "change-me", "changeme", "secret", "dev"}
MIN_SECRET_KEY_LENGTH = 24
LOOPBACK_HOSTS = {"localhost", "0.0.0.0", "::", "::1"}


def _is_loopback(host: str) -> bool:
    host = (host or "").lower().strip("[]")
    return host in LOOPBACK_HOSTS or host.startswith("127.") or host.endswith(".localhost")


def problems(cfg: Config) -> list[str]:
    """Every setting that cannot work, one line each, naming the variable. Contacts nothing."""
    found = []
    for name in ("WECHAT_TOKEN", "WECHAT_APP_ID", "WECHAT_APP_SECRET"):
        if not getattr(cfg, name):
            found.append(f"{name} is required（未设置：公众号后台的服务器配置里有它的值）")
    if cfg.WECHAT_AES_KEY and len(cfg.WECHAT_AES_KEY) != 43:
        found.append("WECHAT_AES_KEY must be the 43-character EncodingAESKey（长度应为 43 个字符）")
    if cfg.WECHAT_REQUIRE_AES and not cfg.WECHAT_AES_KEY:
        found.append("WECHAT_REQUIRE_AES=1 needs WECHAT_AES_KEY（只收安全模式消息，须设置 EncodingAESKey）")
    if cfg.SMS_BACKEND not in {"console", "http"}:
        found.append("SMS_BACKEND must be 'console' or 'http'")
    if cfg.LOG_FORMAT not in {"text", "json"}:
        found.append("LOG_FORMAT must be 'text' or 'json'")
    if cfg.SMS_BACKEND == "http" and not cfg.SMS_HTTP_URL:
        found.append("SMS_HTTP_URL is required when SMS_BACKEND=http（短信网关地址）")
    if cfg.ENV_NAME == "production":
        found.extend(_production_problems(cfg))
    return found


def _production_problems(cfg: Config) -> list[str]:
    """What would only fail later, in front of users: refused in production (SPEC 9.3 `check`)."""
    found = []
    if cfg.SMS_BACKEND == "console":
        found.append("SMS_BACKEND=console: 生产环境的验证码只会写进日志，没有人能收到短信完成绑定；"
                     "请设为 http 并配置 SMS_HTTP_URL")
    key = cfg.SECRET_KEY or ""
    if not key:
        found.append("SECRET_KEY is required outside development（页面会话的签名密钥，请用随机的长字符串）")
    elif key in PLACEHOLDER_SECRET_KEYS or key.startswith("dev-only") or len(key) < MIN_SECRET_KEY_LENGTH:
        found.append(f"SECRET_KEY: 是示例值或太短（至少 {MIN_SECRET_KEY_LENGTH} 个字符的随机串），"
                     "任何人都能伪造页面会话")
    url = urlsplit(cfg.PUBLIC_BASE_URL or "")
    if url.scheme != "https":
        found.append(f"PUBLIC_BASE_URL={cfg.PUBLIC_BASE_URL or '(未设置)'}: 必须是 https 地址"
                     "（发给用户的链接和网页授权域名都用它）")
    if not url.hostname or _is_loopback(url.hostname):
        found.append(f"PUBLIC_BASE_URL={cfg.PUBLIC_BASE_URL or '(未设置)'}: 指向本机地址，"
                     "用户手机上打不开；请设为对外的域名")
    for name in ("TEMPLATE_TASK_ID", "TEMPLATE_REMINDER_ID"):
        if not getattr(cfg, name):
            found.append(f"{name} is required in production（模板消息 ID；不设置则任务通知一条也发不出去）")
    return found


def check(cfg: Config) -> None:
    """Refuse settings that cannot work, naming every one at once. Called by create_app, never
    at import; `flask --app wsgi check` prints the same list."""
    found = problems(cfg)
    if not cfg.SECRET_KEY and cfg.ENV_NAME != "production":
        cfg.SECRET_KEY = "dev-only-" + cfg.ENV_NAME
    if found:
        raise ConfigError(found)
