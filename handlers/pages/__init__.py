"""The OAuth pages (SPEC 8): one blueprint per page family, registered here."""
from __future__ import annotations

from . import admin_rq, auth, csrf, dispatch, jssdk, progress, share, stats, tasks


def init_app(app) -> None:
    csrf.init_app(app)
    for module in (auth, tasks, dispatch, share, jssdk, progress, stats):
        app.register_blueprint(module.bp)
    admin_rq.init_app(app)  # /admin/rq: rq-dashboard, ministry accounts only
