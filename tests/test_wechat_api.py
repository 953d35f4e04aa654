"""The WeChat API client against the simulator: shared token, retry on 40001, errors."""
from __future__ import annotations

import threading

import pytest
import redis

from bot.wechat_api import WeChatClient, WeChatError


def make_client(simulator, redis_url, timeout=2.0):
    # Each client has its own memory and HTTP session, like two processes.
    return WeChatClient("wxtestappid0000000", "test-secret", simulator.url, redis.Redis.from_url(redis_url),
                        timeout=timeout)


@pytest.fixture
def follower(app, simulator):
    return simulator.add_user()["openid"]


def test_two_clients_share_one_token_grant(simulator, redis_url, follower):
    clients = [make_client(simulator, redis_url), make_client(simulator, redis_url)]
    errors = []

    def work(client):
        try:
            for _ in range(5):
                assert client.user_info(follower)["subscribe"] == 1
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert simulator.stats()["token_grants"] == 1
    assert simulator.stats()["paths"]["/cgi-bin/user/info"] == 30


def test_token_rejected_once_is_refreshed_once(simulator, redis_url, follower):
    client = make_client(simulator, redis_url)
    client.user_info(follower)
    simulator.add_faults({"path": "/cgi-bin/user/info", "errcode": 40001, "times": 1})
    assert client.user_info(follower)["openid"] == follower
    assert simulator.stats()["token_grants"] == 2


def test_errors_carry_errcode(simulator, redis_url):
    client = make_client(simulator, redis_url)
    ghost = simulator.add_user(subscribe=False)["openid"]
    with pytest.raises(WeChatError) as info:
        client.send_template(ghost, "tpl", {"thing1": {"value": "x"}}, client_msg_id="t-1")
    assert info.value.errcode == 43004
    simulator.add_faults({"path": "/cgi-bin/message/custom/send", "status": 502, "times": 1})
    with pytest.raises(WeChatError) as info:
        client.send_text(ghost, "hi")
    assert info.value.errcode is None and info.value.retryable


def test_timeouts_are_enforced(simulator, redis_url, follower):
    client = make_client(simulator, redis_url, timeout=0.3)
    client.access_token()
    simulator.add_faults({"path": "/cgi-bin/user/info", "delay": 1.0, "times": 1})
    with pytest.raises(WeChatError) as info:
        client.user_info(follower)
    assert info.value.retryable


def test_template_send_passes_client_msg_id(simulator, redis_url, follower):
    client = make_client(simulator, redis_url)
    first = client.send_template(follower, "tpl", {"thing1": {"value": "任务"}}, url="http://x", client_msg_id="k1")
    again = client.send_template(follower, "tpl", {"thing1": {"value": "任务"}}, url="http://x", client_msg_id="k1")
    assert first["msgid"] == again["msgid"]
    assert simulator.stats()["deliveries"] == 1
