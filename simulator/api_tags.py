"""The simulated user-tag endpoints of api.weixin.qq.com (tags/create, get, update, delete,
batch tagging, a user's tags)."""
from __future__ import annotations

from flask import Blueprint

from .api import _target_user, err, ok, wechat_api

bp = Blueprint("sim_api_tags", __name__)


def _tag_counts(state):
    counts = {tid: 0 for tid in state.tags}
    for u in state.users.values():
        for t in u["tagid_list"]:
            if t in counts:
                counts[t] += 1
    return counts


@bp.route("/cgi-bin/tags/create", methods=["POST"])
@wechat_api()
def tags_create(state, body):
    tag = body.get("tag")
    name = tag.get("name") if isinstance(tag, dict) else None
    if not isinstance(name, str) or not name.strip():
        return err(47001)
    if len(name) > 30:
        return err(45158)
    with state.lock:
        if any(t["name"] == name for t in state.tags.values()):
            return err(45157)
        tid = state.next_tag_id
        state.next_tag_id += 1
        state.tags[tid] = {"id": tid, "name": name}
    return {"tag": {"id": tid, "name": name}}


@bp.route("/cgi-bin/tags/get", methods=["GET"])
@wechat_api()
def tags_get(state, body):
    with state.lock:
        counts = _tag_counts(state)
        return {"tags": [{"id": t["id"], "name": t["name"], "count": counts[t["id"]]}
                         for t in state.tags.values()]}


@bp.route("/cgi-bin/tags/update", methods=["POST"])
@wechat_api()
def tags_update(state, body):
    tag = body.get("tag") if isinstance(body.get("tag"), dict) else {}
    with state.lock:
        tid = _as_int(tag.get("id"))
        if tid not in state.tags:
            return err(45159)
        name = tag.get("name")
        if not isinstance(name, str) or not name.strip():
            return err(47001)
        if any(t["name"] == name and t["id"] != tid for t in state.tags.values()):
            return err(45157)
        state.tags[tid]["name"] = name
    return ok()


@bp.route("/cgi-bin/tags/delete", methods=["POST"])
@wechat_api()
def tags_delete(state, body):
    tag = body.get("tag") if isinstance(body.get("tag"), dict) else {}
    with state.lock:
        tid = _as_int(tag.get("id"))
        if tid not in state.tags:
            return err(45159)
        del state.tags[tid]
        for u in state.users.values():
            if tid in u["tagid_list"]:
                u["tagid_list"].remove(tid)
    return ok()


def _as_int(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _batch(state, body, add):
    openids = body.get("openid_list")
    if not isinstance(openids, list) or not 1 <= len(openids) <= 50:
        return err(40032)
    tid = _as_int(body.get("tagid"))
    with state.lock:
        if tid not in state.tags:
            return err(45159)
        for o in openids:
            if o not in state.users:
                return err(40003)
        for o in openids:
            tl = state.users[o]["tagid_list"]
            if add and tid not in tl:
                if len(tl) >= 20:
                    return err(45059, "too many tags on a user")
                tl.append(tid)
            elif not add and tid in tl:
                tl.remove(tid)
    return ok()


@bp.route("/cgi-bin/tags/members/batchtagging", methods=["POST"])
@wechat_api()
def tags_batchtagging(state, body):
    return _batch(state, body, add=True)


@bp.route("/cgi-bin/tags/members/batchuntagging", methods=["POST"])
@wechat_api()
def tags_batchuntagging(state, body):
    return _batch(state, body, add=False)


@bp.route("/cgi-bin/tags/getidlist", methods=["POST"])
@wechat_api()
def tags_getidlist(state, body):
    user, e = _target_user(state, body.get("openid"))
    if e:
        return e
    return {"tagid_list": list(user["tagid_list"])}


@bp.route("/cgi-bin/user/tag/get", methods=["POST"])
@wechat_api()
def user_tag_get(state, body):
    tid = _as_int(body.get("tagid"))
    with state.lock:
        if tid not in state.tags:
            return err(45159)
        ids = [u["openid"] for u in state.users.values() if tid in u["tagid_list"]]
    return {"count": len(ids), "data": {"openid": ids}, "next_openid": ids[-1] if ids else ""}

