"""What the benchmarks share: paths, settings, the app, timing, child processes.

Every benchmark talks to loopback only, bounds its loops in count and time,
and stops every process it starts (process groups, try/finally).
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / ".data"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PYTHON = sys.executable
DEFAULT_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
TOKEN = "bench-token"
APP_ID = "wxbench0000000000"
APP_SECRET = "bench-secret"
SECRET_KEY = "bench-secret-key-not-for-production"
TEMPLATE_TASK_ID = "tpl-bench-task"
TEMPLATE_REMINDER_ID = "tpl-bench-reminder"
PASSWORD = "Bench-Passw0rd"


def step_parser(doc: str, preset_help: str = "selects the default SQLite file bench/.data/bench-<preset>.db"):
    """The arguments every benchmark step takes: --preset, --database-url, --redis-url."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--preset", default="small", help=preset_help)
    p.add_argument("--database-url")
    p.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    return p


def default_database_url(preset: str) -> str:
    return f"sqlite:///{DATA_DIR / f'bench-{preset}.db'}"


def redacted(url: str) -> str:
    """A database URL without its password, for printing."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"


def db_label(url: str) -> str:
    return "MariaDB" if url.startswith("mysql") else "SQLite"


def app_env(database_url: str, redis_url: str, api_base: str = "http://127.0.0.1:9", **extra) -> dict:
    """The environment of an fdy process (gunicorn, worker) for a benchmark run."""
    env = dict(os.environ)
    env.update({
        # Production code paths; "development" only because `check` refuses what a benchmark on
        # loopback needs in production (an http 127.0.0.1 base URL, console SMS).
        "FDY_ENV": "development",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_APP_ID": APP_ID,
        "WECHAT_APP_SECRET": APP_SECRET,
        "WECHAT_API_BASE": api_base,
        "WECHAT_OAUTH_BASE": api_base,
        "SECRET_KEY": SECRET_KEY,
        "TEMPLATE_TASK_ID": TEMPLATE_TASK_ID,
        "TEMPLATE_REMINDER_ID": TEMPLATE_REMINDER_ID,
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
        # gunicorn.conf.py recycles a worker every ~20,000 requests; a recycled worker's CPU would
        # vanish from the per-process accounting (bench/cpu_meter.py) in the middle of a phase.
        "GUNICORN_MAX_REQUESTS": "0",
        # As deploy/systemd/fdy-web.service runs the web workers (threads: two malloc arenas).
        "MALLOC_ARENA_MAX": "2",
        "PYTHONPATH": str(ROOT),
    })
    env.pop("WECHAT_AES_KEY", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def make_app(database_url: str, redis_url: str, api_base: str = "http://127.0.0.1:9"):
    """The fdy app in this process, configured like the benchmark's child processes."""
    import config as settings
    from bot.app import create_app

    ensure_buffer_pool(database_url)
    env = app_env(database_url, redis_url, api_base)
    cfg = settings.load_config(env)
    app = create_app(cfg)
    # The app logs every webhook at INFO; a benchmark only wants its own output.
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    return app


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    """Wait until `url` answers (any status), or fail with the child's exit."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
            conn.request("GET", parts.path or "/")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


class Children:
    """Child processes in their own process groups, all stopped on exit."""

    def __init__(self):
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], env: dict | None = None, log: Path | None = None,
              stdout=None) -> subprocess.Popen:
        out = stdout
        if out is None:
            log = log or (DATA_DIR / f"{name}.log")
            log.parent.mkdir(parents=True, exist_ok=True)
            out = open(log, "wb")
        proc = subprocess.Popen(args, env=env, cwd=str(ROOT), stdout=out,
                                stderr=subprocess.STDOUT if stdout is None else None,
                                start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 10.0) -> None:
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)

    def stop_all(self) -> None:
        for _name, proc in reversed(self.procs):
            self.stop(proc)
        self.procs.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop_all()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary_ms(samples: list[float]) -> dict:
    """p50/p95/p99/max of samples in seconds, as milliseconds."""
    return {
        "n": len(samples),
        "p50_ms": percentile(samples, 50) * 1000,
        "p95_ms": percentile(samples, 95) * 1000,
        "p99_ms": percentile(samples, 99) * 1000,
        "max_ms": max(samples) * 1000 if samples else float("nan"),
        "mean_ms": statistics.fmean(samples) * 1000 if samples else float("nan"),
    }


@contextmanager
def timed():
    """with timed() as t: ...; t() is the elapsed seconds (live inside, frozen after)."""
    start = time.perf_counter()
    end = []

    def elapsed():
        return (end[0] if end else time.perf_counter()) - start

    try:
        yield elapsed
    finally:
        end.append(time.perf_counter())


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def print_json_line(tag: str, data: dict) -> None:
    """One machine-readable line per benchmark, for run_all.py to collect."""
    import json

    print(f"BENCH-RESULT {tag} " + json.dumps(data, ensure_ascii=False, default=str), flush=True)


BUFFER_POOL_WANTED = 2 * 1024 ** 3
_pools_checked: set[str] = set()


def _mib(n: int) -> str:
    return f"{n / 1024 ** 2:,.0f} MiB"


def ensure_mariadb_database(url: str) -> None:
    """The benchmark's MariaDB database, created when missing (a standalone step can then run first),
    with the collation the tests use (scripts/test.sh)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    u = make_url(url)
    server = u.set(database="")
    engine = create_engine(server)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"CREATE DATABASE IF NOT EXISTS `{u.database}` CHARACTER SET utf8mb4 "
                              "COLLATE utf8mb4_unicode_ci"))
    finally:
        engine.dispose()


def ensure_buffer_pool(url: str, wanted: int = BUFFER_POOL_WANTED) -> dict | None:
    """Raise MariaDB's InnoDB buffer pool to `wanted` for the benchmark when it is smaller.

    Debian's default (128 MiB) holds a fraction of the national working set (1M graduates,
    150k counselors and their recipients): every figure would then measure page churn rather
    than fdy. The pool size is dynamic (SET GLOBAL, needs SUPER); the change lasts until the
    server restarts and is never shrunk back here, so that a run's later steps find a warm pool.
    BENCH_KEEP_BUFFER_POOL=1 leaves the server alone (then only the warning is printed).
    Once per server per process; returns what it found and did (None for SQLite).
    """
    if not url.startswith("mysql"):
        return None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    u = make_url(url)
    key = f"{u.host}:{u.port}"
    if key in _pools_checked:
        return None
    _pools_checked.add(key)
    engine = create_engine(u.set(database=""))
    try:
        with engine.connect() as conn:
            found = int(conn.scalar(text("SELECT @@GLOBAL.innodb_buffer_pool_size")))
            out = {"found": found, "wanted": wanted, "size": found, "changed": False}
            if found >= wanted:
                print(f"MariaDB buffer pool: {_mib(found)} (>= {_mib(wanted)}, left as is)", flush=True)
                return out
            if os.environ.get("BENCH_KEEP_BUFFER_POOL") == "1":
                out["refused"] = "BENCH_KEEP_BUFFER_POOL=1"
            else:
                try:
                    conn.execute(text(f"SET GLOBAL innodb_buffer_pool_size = {int(wanted)}"))
                    out["size"] = _wait_pool_resized(conn, wanted)
                    out["changed"] = out["size"] != found
                except DBAPIError as exc:
                    out["refused"] = str(exc.orig).strip()
    finally:
        engine.dispose()
    if out["size"] >= wanted:
        print(f"MariaDB buffer pool: found {_mib(found)}, set {_mib(out['size'])} for the benchmark "
              f"(SET GLOBAL: lasts until the server restarts)", flush=True)
    else:
        why = out.get("refused") or f"the server kept {_mib(out['size'])}"
        print(f"WARNING: MariaDB buffer pool is {_mib(out['size'])}, below {_mib(wanted)}, and was not raised "
              f"({why}). The figures will be pool-bound (buffer-pool misses, not fdy) on the national data; "
              f"run as a user with SUPER or set innodb_buffer_pool_size = 2G in the server config.", flush=True)
    return out


def _wait_pool_resized(conn, wanted: int, timeout: float = 120.0) -> int:
    """The pool size once a resize is over (older servers resize in the background)."""
    from sqlalchemy import text

    start = time.monotonic()
    while True:
        size = int(conn.scalar(text("SELECT @@GLOBAL.innodb_buffer_pool_size")))
        status = conn.execute(text("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_resize_status'")).first()
        busy = bool(status is not None and status[1] and "complet" not in status[1].lower())
        waited = time.monotonic() - start
        # A server may also clamp the size (innodb_buffer_pool_size_max): then it stays smaller.
        if (not busy and (size >= wanted or waited > 5)) or waited > timeout:
            return size
        time.sleep(0.5)


def mariadb_reachable(host: str = "127.0.0.1", port: int = 3306) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
