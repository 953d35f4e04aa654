"""Fixtures: app, client, db, redis (own db number, flushed), the simulator,
a live HTTP server, a signed WeChat stand-in, factories.

Services are real. A missing Redis or database fails the run: `make test`
is what makes them present, and no test skips to green without them.
"""
from __future__ import annotations

import os
import threading

import pytest
import redis as redis_lib
from sqlalchemy import text
from werkzeug.serving import make_server

import config as settings
from bot import timed_cache
from models import Base

REDIS_URL = os.environ.get("FDY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
DATABASE_URL = os.environ.get("FDY_TEST_DATABASE_URL")
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture(scope="session")
def redis_url():
    try:
        redis_lib.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis_lib.RedisError as exc:
        pytest.fail(f"Redis is required at {REDIS_URL} ({exc}); `make test` starts one.", pytrace=False)
    return REDIS_URL


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """The schema is built by the Alembic migration, so every run checks it too."""
    from sqlalchemy import create_engine

    from models.migrate import upgrade

    url = DATABASE_URL or f"sqlite:///{tmp_path_factory.mktemp('db') / 'fdy-test.db'}"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            if url.startswith("mysql"):
                conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
                for name in conn.execute(text("SHOW TABLES")).scalars().all():
                    conn.execute(text(f"DROP TABLE `{name}`"))
    except Exception as exc:
        pytest.fail(f"database {url.split('@')[-1]} not reachable: {exc}", pytrace=False)
    finally:
        engine.dispose()
    upgrade(url)
    return url


@pytest.fixture
def mariadb_url(database_url):
    """MariaDB for tests of what only it has; both legs of `make test` set FDY_TEST_MARIADB_URL."""
    url = os.environ.get("FDY_TEST_MARIADB_URL") or database_url
    if not url.startswith("mysql"):
        pytest.fail("MariaDB is required (FDY_TEST_MARIADB_URL); `make test` provides one.", pytrace=False)
    return url


@pytest.fixture(scope="session")
def simulator():
    from simulator import SimulatorServer

    sim = SimulatorServer(app_url=None, token="test-token", app_id="wxtestappid0000000",
                          app_secret="test-secret", aes_key=AES_KEY)
    sim.start()
    yield sim
    sim.stop()


def make_config(database_url: str, redis_url: str, simulator_url: str, **overrides) -> settings.Config:
    return settings.load_config(
        {"FDY_ENV": "testing"},
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        WECHAT_API_BASE=simulator_url,
        WECHAT_OAUTH_BASE=simulator_url,
        WECHAT_AES_KEY=AES_KEY,
        **overrides,
    )


@pytest.fixture(scope="session")
def app(database_url, redis_url, simulator):
    from bot.app import create_app

    application = create_app(make_config(database_url, redis_url, simulator.url))
    yield application
    application.extensions["fdy.db"].engine.dispose()


@pytest.fixture(scope="session")
def live_server(app, simulator):
    """The app on a real HTTP server (threaded), and the simulator pointed at it."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_BASE_URL"] = url
    simulator.app_url = url
    yield url
    server.shutdown()


def _wipe(app) -> None:
    timed_cache.clear_all()  # figures counted for ids that the wiped tables will hand out again
    engine = app.extensions["fdy.db"].engine
    with engine.begin() as conn:
        if engine.dialect.name == "mysql":
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        else:
            conn.execute(text("PRAGMA foreign_keys=OFF"))
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
        if engine.dialect.name == "mysql":
            conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
        else:
            conn.execute(text("PRAGMA foreign_keys=ON"))


@pytest.fixture(autouse=True)
def _fresh_state(request):
    """Each test that uses the app starts with empty tables, Redis and simulator."""
    if "app" in request.fixturenames:
        app = request.getfixturevalue("app")
        _wipe(app)
        redis_lib.Redis.from_url(REDIS_URL).flushdb()
        request.getfixturevalue("simulator").reset()
        app.extensions["fdy.wechat"].forget_local_token()  # its token died with the simulator's state
    yield


@pytest.fixture
def ctx(app):
    with app.app_context() as context:
        yield context


@pytest.fixture
def db(ctx):
    from models import db as database

    yield database.session


@pytest.fixture
def factory(db):
    from tests.factories import Factory

    return Factory(db)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def redis_conn(redis_url):
    return redis_lib.Redis.from_url(redis_url)


@pytest.fixture
def wechat(app, live_server):
    """Signs and posts WeChat messages to the live server."""
    from tests.wechat_client import WeChatServer

    return WeChatServer(live_server, app.config["WECHAT_TOKEN"], app.config["WECHAT_APP_ID"], AES_KEY)


@pytest.fixture
def run_jobs(app):
    """Run every queued job now, in this process (rq's SimpleWorker in burst mode)."""
    from rq import SimpleWorker

    import jobs

    def run():
        with app.app_context():
            queues = [jobs.queue(name) for name in jobs.QUEUE_NAMES]
            SimpleWorker(queues, connection=queues[0].connection).work(burst=True)

    return run


CHROMIUM = os.environ.get("FDY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "test-artifacts")


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (no browser download)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium is required at {CHROMIUM}; `make test` installs it.", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    """A phone-sized page in a fresh context (own cookies)."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(10000)
    yield pg
    context.close()


@pytest.fixture
def artifacts_dir():
    os.makedirs(ARTIFACTS, exist_ok=True)
    return ARTIFACTS
