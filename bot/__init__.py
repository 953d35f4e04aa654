"""WeChat glue: app factory, hardened webhook, API client, OAuth, dedupe."""
from .app import create_app  # noqa: F401
