"""`GET /jssdk/config?url=…` (SPEC 9.2): what a page of ours passes to wx.config()."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request

from bot import jssdk
from bot.wechat_api import WeChatError, get_client

log = logging.getLogger(__name__)

bp = Blueprint("pages_jssdk", __name__)


@bp.get("/jssdk/config")
def jssdk_config():
    url = jssdk.page_url(request.args.get("url", ""), current_app.config["PUBLIC_BASE_URL"])
    if url is None:
        return jsonify(error="url must be a page of this site"), 400
    try:
        ticket = get_client().jsapi_ticket()
    except WeChatError as exc:
        log.warning("jsapi ticket unavailable: %s", exc)
        return jsonify(error="jsapi ticket unavailable"), 503
    response = jsonify(jssdk.config_for(current_app.config["WECHAT_APP_ID"], ticket, url))
    response.headers["Cache-Control"] = "no-store"
    return response
