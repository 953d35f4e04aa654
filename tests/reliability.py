"""Helpers for the reliability tests (issue 8): private servers, worker processes, figures.

Private redis-server / mariadbd instances are started on free ports in a temp
directory so a test can stop, hang and restart them without touching the
shared services other tests (and other people) use.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from rq.job import Job
from rq.registry import ScheduledJobRegistry
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "test-artifacts" / "reliability-figures.json"
_figures_lock = threading.Lock()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def dialect() -> str:
    url = os.environ.get("FDY_TEST_DATABASE_URL") or "sqlite"
    return "mariadb" if url.startswith("mysql") else "sqlite"


def record_figures(name: str, **values) -> None:
    """Merge one test's figures into test-artifacts/reliability-figures.json (per database leg)."""
    with _figures_lock:
        FIGURES.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = json.loads(FIGURES.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        data.setdefault(dialect(), {})[name] = dict(values, at=time.strftime("%Y-%m-%d %H:%M:%S"))
        FIGURES.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")


# -- a Flask app on a real HTTP server ----------------------------------------------------------
@contextmanager
def serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


# -- private redis-server -----------------------------------------------------------------------
class PrivateRedis:
    """A redis-server of our own; append-only file so a restart keeps the queues."""

    def __init__(self, directory: Path):
        if not shutil.which("redis-server"):
            raise AssertionError("redis-server is required for the fault tests (`make test` installs it)")
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> "PrivateRedis":
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.dir),
             "--save", "", "--appendonly", "yes", "--appendfsync", "always",
             "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.ping, 10, what=f"private redis-server on port {self.port}")
        return self

    def stop(self) -> None:
        """Graceful stop (SIGTERM): the append-only file keeps what was queued."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        wait_for(lambda: not self.ping(), 5, what="redis to stop")

    def hang(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)


# -- private mariadbd ---------------------------------------------------------------------------
class PrivateMariaDB:
    """mariadb-install-db into a temp dir + mariadbd on a free port (as scripts/test.sh does)."""

    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.datadir = self.dir / "data"
        self.sock = self.dir / "mariadb.sock"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.mariadbd = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        for tool in (self.mariadbd, shutil.which("mariadb-install-db"), shutil.which("mariadb")):
            if not tool or not os.path.exists(tool):
                raise AssertionError("mariadbd, mariadb-install-db and mariadb are required (`make test` installs them)")

    def url(self, database: str) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}?charset=utf8mb4"

    def install(self) -> "PrivateMariaDB":
        user = _user()
        result = subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={self.datadir}", f"--user={user}",
             "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"],
            capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise AssertionError(f"mariadb-install-db failed: {result.stdout[-2000:]} {result.stderr[-2000:]}")
        return self

    def start(self) -> "PrivateMariaDB":
        self.proc = subprocess.Popen(
            [self.mariadbd, "--no-defaults", f"--datadir={self.datadir}", f"--user={_user()}",
             f"--port={self.port}", "--bind-address=127.0.0.1", f"--socket={self.sock}",
             f"--pid-file={self.dir / 'mariadb.pid'}", f"--log-error={self.dir / 'mariadb.err'}",
             "--skip-name-resolve", "--skip-log-bin", "--character-set-server=utf8mb4",
             "--collation-server=utf8mb4_unicode_ci", "--innodb-buffer-pool-size=64M",
             "--innodb-flush-log-at-trx-commit=2", "--innodb-doublewrite=0", "--max-connections=200"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(self.ready, 60, interval=0.3, what=f"private mariadbd on port {self.port}")
        except AssertionError:
            err = (self.dir / "mariadb.err")
            raise AssertionError(err.read_text()[-3000:] if err.exists() else "mariadbd did not start") from None
        return self

    def ready(self) -> bool:
        return self.sql("SELECT 1", check=False) == 0

    def sql(self, statement: str, check: bool = True) -> int:
        result = subprocess.run(["mariadb", "--no-defaults", "--connect-timeout=2", "-h127.0.0.1",
                                 f"-P{self.port}", "-uroot", "-e", statement], capture_output=True, text=True)
        if check and result.returncode != 0:
            raise AssertionError(f"mariadb: {result.stderr}")
        return result.returncode

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # mariadbd shuts down cleanly on SIGTERM
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def close(self) -> None:
        self.stop()


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


# -- RQ worker processes ------------------------------------------------------------------------
def start_worker(env: dict, log_path: Path) -> subprocess.Popen:
    """`flask --app wsgi worker` (with the scheduler) as a real process."""
    log = open(log_path, "ab")
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(entry))
    return out


def sigkill_worker(proc: subprocess.Popen) -> int:
    """SIGKILL the worker and its work-horse (rq puts the horse in its own process group)."""
    victims = _children(proc.pid)
    for pid in victims + [proc.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(10)
    return len(victims) + 1


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        sigkill_worker(proc)


def promote_scheduled(queues, prefix: str = "notify-", only_due: bool = False) -> int:
    """Move scheduled jobs whose id starts with `prefix` to their queue now (time travel on rq's
    scheduler: the backstop jobs are minutes away in real time)."""
    moved = 0
    now = time.time()
    for q in queues:
        registry = ScheduledJobRegistry(queue=q)
        for job_id in registry.get_job_ids():
            if not job_id.startswith(prefix):
                continue
            if only_due:
                try:
                    when = registry.get_scheduled_time(job_id)
                except Exception:
                    continue
                if when.timestamp() > now:
                    continue
            job = Job.fetch(job_id, connection=q.connection)
            registry.remove(job_id)
            q._enqueue_job(job, at_front=True)
            moved += 1
    return moved
