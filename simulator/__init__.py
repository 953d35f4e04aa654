"""A local WeChat on loopback: stands in for api.weixin.qq.com and
open.weixin.qq.com, and serves a chat page that plays WeChat users.

    from simulator import SimulatorServer
    sim = SimulatorServer(app_url="http://127.0.0.1:5000", token="T", app_id="A",
                          app_secret="S")
    base = sim.start()          # http://127.0.0.1:PORT
    ...
    sim.stop()
"""
from __future__ import annotations

from flask import Flask

from .state import SimState

__all__ = ["create_sim_app", "SimulatorServer", "SimState"]


def create_sim_app(state: SimState | None = None, **config) -> Flask:
    """Build the simulator's Flask app. ``config`` goes to SimState when no
    state is given (token, app_id, app_secret, aes_key, app_url, receipts...)."""
    from . import api, api_menus, api_tags, chat, control, jssdk

    app = Flask(__name__)
    app.config["SIM_STATE"] = state if state is not None else SimState(**config)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.register_blueprint(api.bp)
    app.register_blueprint(api_menus.bp)
    app.register_blueprint(api_tags.bp)
    app.register_blueprint(control.bp)
    app.register_blueprint(chat.bp)
    app.register_blueprint(jssdk.bp)
    return app


from .server import SimulatorServer  # noqa: E402
