"""Chinese error pages (400, 403, 404, 405, 413, 500) in the platform's style, or JSON for JSON callers.

Only errors raised as HTTP exceptions (abort, routing, a crash) come here; the webhook writes its
own plain answers for WeChat. A 500 shows the request id (the log has the traceback), never the
traceback.
"""
from __future__ import annotations

from flask import g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

MESSAGES = {
    400: ("请求有误", "请求的格式不正确，请返回重试，或从公众号菜单重新进入。"),
    403: ("没有权限", "您没有权限查看这个页面。如需帮助，请联系上级管理员或学校就业服务中心。"),
    404: ("页面不存在", "您要找的页面不存在，可能链接已过期或输入有误。请从公众号菜单重新进入。"),
    405: ("操作不支持", "这个页面不支持这种操作，请返回后重新点击。"),
    413: ("内容过大", "提交的内容太大了，请精简后再试。"),
    500: ("服务器开小差了", "服务器暂时出了点问题，请稍后再试。如果一直出现，请联系学校就业服务中心。"),
}


def _wants_json() -> bool:
    path = request.path
    if path.endswith(".json") or path.startswith(("/jssdk/", "/healthz")):
        return True
    best = request.accept_mimetypes.best
    return best == "application/json"


def render_error(status: int, message: str | None = None):
    title, default = MESSAGES.get(status, MESSAGES[500 if status >= 500 else 400])
    text = message or default
    if _wants_json():
        return jsonify(error=text, status=status), status
    return render_template("error.html", title=title, message=text, status=status,
                           request_id=getattr(g, "request_id", None)), status


def _http_error(exc: HTTPException):
    if exc.code is None or exc.code < 400:
        return exc
    response = render_error(exc.code)
    if exc.code == 405 and exc.valid_methods:
        body, status = response
        return body, status, {"Allow": ", ".join(exc.valid_methods)}
    return response


def _crash(_exc: Exception):
    # Flask has logged the traceback (Flask.log_exception) before calling this.
    return render_error(500)


def init_app(app) -> None:
    for status in (400, 403, 404, 405, 413):
        app.register_error_handler(status, _http_error)
    app.register_error_handler(500, _crash)
