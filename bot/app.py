"""The Flask app factory: settings checked here, one init_app per subsystem.

The top of the import layers (docs/ARCHITECTURE.md): it may import every package,
and only wsgi.py (plus tests and benchmarks) imports it.
"""
from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter

import config as settings
import handlers
import jobs
import models
from bot import (dedupe, errors, freshness, logging_setup, oauth, page_headers, robot, sessions, store,
                 wechat_api, webhook)


class BoundedIntConverter(IntegerConverter):
    """<int:...> limited to a signed 32-bit value (our ids; SQLite and MariaDB take it)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(config: settings.Config | None = None) -> Flask:
    cfg = config if config is not None else settings.load_config()
    settings.check(cfg)

    app = Flask(__name__, instance_path=str(settings.PROJECT_ROOT / "instance"),
                template_folder=str(settings.PROJECT_ROOT / "handlers" / "templates"),
                static_folder=str(settings.PROJECT_ROOT / "handlers" / "static"))
    # Before any route is added: an id too big for a database integer is "not found" (404), not
    # an OverflowError from the driver (500) — every page with <int:...> is covered at once.
    app.url_map.converters["int"] = BoundedIntConverter
    app.config.from_mapping(cfg.as_flask_config())
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      PERMANENT_SESSION_LIFETIME=7 * 86400)

    logging_setup.init_app(app)
    errors.init_app(app)
    sessions.init_app(app)
    page_headers.init_app(app)
    models.init_app(app)
    store.init_app(app)
    dedupe.init_app(app)
    freshness.init_app(app)
    wechat_api.init_app(app)
    jobs.init_app(app)
    robot.init_app(app)
    app.register_blueprint(webhook.bp)
    app.register_blueprint(oauth.bp)
    handlers.init_app(app)          # the routes on the robot, the pages, the CLI

    return app
