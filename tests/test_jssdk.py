"""The JS-SDK configuration (SPEC 9.2): WeChat's signature rule, one ticket grant shared by every
process, 40001 on the ticket call refreshes the token once, foreign hosts refused."""
from __future__ import annotations

import threading

from bot.jssdk import signature
from tests.conftest import make_config

TICKET_PATH = "/cgi-bin/ticket/getticket"


def test_signature_matches_wechats_published_example():
    # From WeChat's JS-SDK documentation (附录1 签名算法).
    assert signature("sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
                     "Wm3WZYTPz0wzccnW", 1414587457,
                     "http://mp.weixin.qq.com?params=value") == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"


def test_config_is_signed_with_the_ticket_for_the_page_without_its_fragment(app, client, simulator):
    page = app.config["PUBLIC_BASE_URL"].rstrip("/") + "/tasks/7?from=menu"
    response = client.get("/jssdk/config", query_string={"url": page + "#share"})
    assert response.status_code == 200
    cfg = response.get_json()
    assert set(cfg) == {"appId", "timestamp", "nonceStr", "signature"}
    assert cfg["appId"] == app.config["WECHAT_APP_ID"]
    ticket = simulator.calls(TICKET_PATH)[-1]["response"]["ticket"]
    assert cfg["signature"] == signature(ticket, cfg["nonceStr"], cfg["timestamp"], page)


def test_one_ticket_grant_for_many_config_calls_across_two_app_instances(app, database_url, redis_url, simulator):
    from bot.app import create_app

    other = create_app(make_config(database_url, redis_url, simulator.url))
    page = app.config["PUBLIC_BASE_URL"].rstrip("/") + "/tasks/1"
    other.config["PUBLIC_BASE_URL"] = app.config["PUBLIC_BASE_URL"]
    statuses = []

    def work(instance):
        client = instance.test_client()
        for _ in range(5):
            statuses.append(client.get("/jssdk/config", query_string={"url": page}).status_code)

    threads = [threading.Thread(target=work, args=(a,)) for a in (app, other) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.extensions["fdy.db"].engine.dispose()
    assert statuses == [200] * 30
    stats = simulator.stats()
    assert stats["ticket_grants"] == 1 and stats["token_grants"] == 1
    assert len(simulator.calls(TICKET_PATH)) == 1


def test_a_stale_token_on_the_ticket_call_is_refreshed_once(app, client, simulator):
    page = app.config["PUBLIC_BASE_URL"].rstrip("/") + "/tasks/1"
    simulator.add_faults({"path": TICKET_PATH, "errcode": 40001, "times": 1})
    response = client.get("/jssdk/config", query_string={"url": page})
    assert response.status_code == 200
    assert simulator.stats()["token_grants"] == 2 and simulator.stats()["ticket_grants"] == 1
    # Twice in a row: refreshed once, then the error stands (no loop), and nothing is cached.
    app.extensions["fdy.wechat"].forget_local_token()
    from bot.wechat_api import TICKET_KEY

    app.extensions["fdy.redis"].delete(TICKET_KEY)
    simulator.add_faults({"path": TICKET_PATH, "errcode": 40001, "times": 2})
    assert client.get("/jssdk/config", query_string={"url": page}).status_code == 503
    assert simulator.stats()["token_grants"] == 3


def test_foreign_hosts_and_junk_are_refused(app, client, simulator):
    base = app.config["PUBLIC_BASE_URL"].rstrip("/")
    for url in ("http://evil.example.com/tasks/1", "https://mp.weixin.qq.com/", "javascript:alert(1)", "",
                base.replace("127.0.0.1", "127.0.0.2") + "/tasks/1", base + ":1/x", "//evil.example.com/",
                base + "/" + "x" * 1100):
        response = client.get("/jssdk/config", query_string={"url": url})
        assert response.status_code == 400, url
    assert simulator.calls(TICKET_PATH) == []
