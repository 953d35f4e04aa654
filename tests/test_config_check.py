"""`flask --app wsgi check` and create_app refuse a production configuration that would only fail
later in front of users, naming every problem at once (SPEC 9.3); development and tests still run."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import config as settings
from config import PROJECT_ROOT

SOUND = {
    "FDY_ENV": "production",
    "WECHAT_TOKEN": "tok", "WECHAT_APP_ID": "wx0123456789abcdef", "WECHAT_APP_SECRET": "s3cret",
    "PUBLIC_BASE_URL": "https://fdy.example.edu.cn",
    "SMS_BACKEND": "http", "SMS_HTTP_URL": "https://sms.example.edu.cn/send",
    "SECRET_KEY": "x7Gq2-long-random-secret-for-pages-0001",
    "TEMPLATE_TASK_ID": "tpl-task", "TEMPLATE_REMINDER_ID": "tpl-reminder",
}

# (what is wrong, the variable the refusal must name)
BAD = [
    ({"SMS_BACKEND": ""}, "SMS_BACKEND"),                      # unset = console
    ({"SMS_BACKEND": "console"}, "SMS_BACKEND"),
    ({"SECRET_KEY": ""}, "SECRET_KEY"),
    ({"SECRET_KEY": "dev-only-secret"}, "SECRET_KEY"),
    ({"SECRET_KEY": "short"}, "SECRET_KEY"),
    ({"PUBLIC_BASE_URL": ""}, "PUBLIC_BASE_URL"),              # unset = http://127.0.0.1:5000
    ({"PUBLIC_BASE_URL": "http://fdy.example.edu.cn"}, "PUBLIC_BASE_URL"),
    ({"PUBLIC_BASE_URL": "https://127.0.0.1"}, "PUBLIC_BASE_URL"),
    ({"PUBLIC_BASE_URL": "https://localhost:8443"}, "PUBLIC_BASE_URL"),
    ({"TEMPLATE_TASK_ID": ""}, "TEMPLATE_TASK_ID"),
    ({"TEMPLATE_REMINDER_ID": ""}, "TEMPLATE_REMINDER_ID"),
    ({"WECHAT_TOKEN": ""}, "WECHAT_TOKEN"),
    ({"SMS_BACKEND": "http", "SMS_HTTP_URL": ""}, "SMS_HTTP_URL"),
]


def env_with(**changes) -> dict:
    env = dict(SOUND)
    env.update(changes)
    return env


def test_a_sound_production_configuration_passes():
    assert settings.problems(settings.load_config(SOUND)) == []


@pytest.mark.parametrize("change,name", BAD, ids=[name + ":" + repr(c) for c, name in BAD])
def test_each_bad_production_setting_is_refused_by_name(change, name):
    found = settings.problems(settings.load_config(env_with(**change)))
    assert found and all(line.startswith(name) for line in found), found


def test_every_problem_is_named_at_once_and_create_app_refuses(database_url, redis_url):
    from bot.app import create_app

    env = env_with(SMS_BACKEND="", PUBLIC_BASE_URL="", TEMPLATE_TASK_ID="", SECRET_KEY="")
    with pytest.raises(settings.ConfigError) as refused:
        create_app(settings.load_config(env, DATABASE_URL=database_url, REDIS_URL=redis_url))
    text = str(refused.value)
    for name in ("SMS_BACKEND", "PUBLIC_BASE_URL", "TEMPLATE_TASK_ID", "SECRET_KEY"):
        assert name in text


def test_development_and_testing_keep_their_defaults():
    for env_name in ("development", "testing"):
        cfg = settings.load_config({"FDY_ENV": env_name, "WECHAT_TOKEN": "t", "WECHAT_APP_ID": "a",
                                    "WECHAT_APP_SECRET": "s"})
        settings.check(cfg)  # console SMS, a loopback http base URL, no template ids: fine here
        assert cfg.SECRET_KEY


def run_check(tmp_path, redis_url, env: dict) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "SMS_", "TEMPLATE_"))}
    full.update(env, DATABASE_URL=f"sqlite:///{tmp_path / 'check.db'}", REDIS_URL=redis_url,
                PYTHONPATH=str(PROJECT_ROOT))
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "check"], cwd=PROJECT_ROOT, env=full,
                          capture_output=True, text=True, timeout=60)


def test_check_command_exit_status_and_message(tmp_path, redis_url):
    good = run_check(tmp_path, redis_url, SOUND)
    assert good.returncode == 0, good.stderr
    assert "配置检查通过" in good.stdout

    bad = run_check(tmp_path, redis_url, env_with(SMS_BACKEND="console", PUBLIC_BASE_URL="http://127.0.0.1:5000"))
    assert bad.returncode == 1
    assert "SMS_BACKEND" in bad.stderr and "PUBLIC_BASE_URL" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert "s3cret" not in bad.stderr + bad.stdout  # the check names settings, never prints secrets


def test_a_rotated_secret_key_keeps_forwarded_student_links_working(app, monkeypatch):
    from handlers.share_links import link_token, read_token

    with app.app_context():
        token = link_token(12, 34)
        monkeypatch.setitem(app.config, "SECRET_KEY", "a-brand-new-secret-key-after-rotation")
        assert read_token(token) is None  # a new key alone: the old link is dead
        monkeypatch.setitem(app.config, "SECRET_KEY_FALLBACKS", ["test-secret-key"])  # the former key
        assert read_token(token) == (12, 34)
        assert read_token(link_token(12, 34)) == (12, 34)


def test_fallback_keys_come_from_a_comma_separated_variable():
    cfg = settings.load_config(env_with(SECRET_KEY_FALLBACKS=" old-key-1 ,old-key-2,"))
    assert cfg.as_flask_config()["SECRET_KEY_FALLBACKS"] == ["old-key-1", "old-key-2"]
