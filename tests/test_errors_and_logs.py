"""Chinese error pages (400/403/404/405/500), and LOG_FORMAT=json with a request or job id on each line."""
from __future__ import annotations

import io
import json
import logging
import os
import subprocess
from pathlib import Path

import pytest
from flask import abort

import jobs
from bot.logging_setup import JsonFormatter
from tests.conftest import make_config

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("tests.errors_and_logs")


@pytest.fixture
def side_app(database_url, redis_url, simulator):
    """An app with a few routes that fail on purpose (added before its first request)."""
    from bot.app import create_app

    app = create_app(make_config(database_url, redis_url, simulator.url))
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: a crash becomes the 500 page

    @app.get("/_test/abort/<int:status>")
    def _abort(status):
        abort(status)

    @app.get("/_test/crash")
    def _crash():
        log.info("about to fail for 13812345678")
        raise RuntimeError("boom")

    yield app
    app.extensions["fdy.db"].engine.dispose()


@pytest.fixture
def json_lines():
    """Every log record of the test, formatted by the JSON formatter, as parsed objects."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


@pytest.mark.parametrize("status,words", [(400, "请求有误"), (403, "没有权限"), (404, "页面不存在"),
                                          (405, "操作不支持")])
def test_chinese_error_pages(side_app, status, words):
    client = side_app.test_client()
    response = client.get(f"/_test/abort/{status}")
    assert response.status_code == status
    body = response.data.decode()
    assert words in body and "<html" in body and "app.css" in body


def test_unknown_page_and_wrong_method_in_chinese(client):
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "页面不存在" in missing.data.decode()
    wrong = client.post("/stats")
    assert wrong.status_code == 405 and "操作不支持" in wrong.data.decode()
    assert "GET" in wrong.headers["Allow"]
    as_json = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert as_json.status_code == 404 and as_json.get_json()["error"].startswith("您要找的页面不存在")


def test_a_crash_shows_a_chinese_page_with_the_request_id_and_logs_the_traceback(side_app, json_lines):
    client = side_app.test_client()
    response = client.get("/_test/crash", headers={"X-Request-Id": "nginx-0123456789abcdef"})
    assert response.status_code == 500
    body = response.data.decode()
    assert "服务器开小差了" in body and "nginx-0123456789abcdef" in body
    assert "Traceback" not in body and "RuntimeError" not in body
    assert response.headers["X-Request-Id"] == "nginx-0123456789abcdef"
    lines = [entry for entry in json_lines() if entry.get("request_id") == "nginx-0123456789abcdef"]
    assert any(e["msg"] == "about to fail for 138****5678" for e in lines)
    crash = [e for e in lines if "exc" in e]
    assert crash and "RuntimeError: boom" in crash[0]["exc"]


def test_each_request_gets_its_own_id_and_a_bad_incoming_id_is_replaced(client):
    first = client.get("/healthz").headers["X-Request-Id"]
    second = client.get("/healthz").headers["X-Request-Id"]
    assert first != second and len(first) >= 8
    forged = client.get("/healthz", headers={"X-Request-Id": "x INFO fake=line"}).headers["X-Request-Id"]
    assert " " not in forged


@jobs.job
def logging_job(note: str) -> str:
    log.info("job says %s", note)
    return note


def test_log_lines_of_a_job_carry_its_id(app, run_jobs, json_lines):
    with app.app_context():
        job = jobs.enqueue(logging_job, "你好", job_id="log-me")
    run_jobs()
    mine = [e for e in json_lines() if e["msg"] == "job says 你好"]
    assert mine and mine[0]["job_id"] == job.id == "log-me"
    assert "request_id" not in mine[0]


def test_a_worker_with_log_format_json_writes_only_json_lines(app, database_url, redis_url, simulator):
    with app.app_context():
        job = jobs.enqueue(logging_job, "from a worker", queue_name=jobs.DEFAULT, job_id="log-worker")
    env = dict(os.environ, FDY_ENV="testing", DATABASE_URL=database_url, REDIS_URL=redis_url,
               WECHAT_API_BASE=simulator.url, LOG_FORMAT="json", PYTHONPATH=str(ROOT))
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "worker", "--burst",
                             "--queues", "default"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]  # each one JSON
    said = [e for e in lines if e["msg"] == "job says from a worker"]
    assert said and said[0]["job_id"] == job.id


def cli_commands(group, prefix=""):
    import click

    for name, command in group.commands.items():
        yield prefix + name, command
        if isinstance(command, click.Group):
            yield from cli_commands(command, prefix + name + " ")


def test_every_cli_command_and_option_has_chinese_help(app):
    import re

    import click

    chinese = re.compile(r"[\u4e00-\u9fff]")
    names = []
    for name, command in cli_commands(app.cli):
        names.append(name)
        assert chinese.search(command.help or ""), f"`{name}` has no Chinese help: {command.help!r}"
        for param in command.params:
            if isinstance(param, click.Option) and param.name != "help":
                assert chinese.search(param.help or ""), f"`{name} --{param.name}` has no Chinese help"
    assert {"check", "worker", "jobs list", "graduates import", "db upgrade"} <= set(names)
