"""The deployment files parse with the tools that will run them: `systemd-analyze verify` on the units,
`nginx -t` on the site, gunicorn's config file, the worker instances and the Procfile.

`make test` installs systemd and nginx (scripts/test.sh); a missing tool fails, never skips.
Paths under /opt/fdy are rewritten to this checkout (its .venv) so that the executables exist.
"""
from __future__ import annotations

import datetime
import re
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest

from jobs import QUEUE_NAMES
from handlers.cli.worker import parse_queues

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        pytest.fail(f"{name} is required for this test; `make test` installs it", pytrace=False)
    return path


def test_systemd_units_verify(tmp_path):
    analyze = tool("systemd-analyze")
    for unit in (DEPLOY / "systemd").iterdir():
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/fdy", str(ROOT)))
    names = ["fdy-web.service", "fdy-worker@sms.service", "fdy-worker@high-default.service", "fdy-workers.target"]
    result = subprocess.run([analyze, "verify", *names], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    ours = [line for line in (result.stdout + result.stderr).splitlines()
            if "fdy" in line or str(tmp_path) in line]
    assert result.returncode == 0 and not ours, result.stdout + result.stderr


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fdy.example.edu.cn")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_nginx_site_passes_nginx_t(tmp_path):
    nginx = tool("nginx")
    cert, key = self_signed(tmp_path)
    (tmp_path / "logs").mkdir()
    site = (DEPLOY / "nginx" / "fdy.conf").read_text()
    site = (site.replace("/etc/ssl/fdy/fullchain.pem", str(cert)).replace("/etc/ssl/fdy/privkey.pem", str(key))
            .replace("/var/log/nginx/", f"{tmp_path}/logs/").replace("/opt/fdy", str(ROOT)))
    (tmp_path / "site.conf").write_text(site)
    mime = "include /etc/nginx/mime.types;" if Path("/etc/nginx/mime.types").exists() else ""
    (tmp_path / "nginx.conf").write_text(f"""
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/logs/error.log;
events {{}}
http {{
    {mime}
    access_log {tmp_path}/logs/access.log;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    include {tmp_path}/site.conf;
}}
""")
    result = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_nginx_gives_up_on_wechat_before_wechat_does():
    site = (DEPLOY / "nginx" / "fdy.conf").read_text()
    block = re.search(r"location = /wechat \{(.*?)\}", site, re.S).group(1)
    timeouts = {k: int(v) for k, v in re.findall(r"proxy_(\w+)_timeout (\d+)s;", block)}
    assert set(timeouts) == {"connect", "send", "read"}
    assert timeouts["connect"] + timeouts["read"] < 5 + 1 and timeouts["read"] < 5
    assert "client_max_body_size 64k;" in block


@pytest.mark.parametrize("instance,queues", [("sms", "sms"), ("notify.2", "notify"),
                                             ("high-default", "high,default"), ("bulk", "bulk")])
def test_worker_instances_name_real_queues(instance, queues):
    out = subprocess.run([str(DEPLOY / "fdy-worker"), instance], env={"FDY_WORKER_DRY_RUN": "1", "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=10, check=True).stdout.split()
    assert out[-2:] == ["--queues", queues]
    assert parse_queues(queues) == [q for q in QUEUE_NAMES if q in queues.split(",")]


def test_procfile_and_units_cover_every_queue():
    served = set()
    for line in (DEPLOY / "Procfile").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, command = line.split(":", 1)
        assert re.fullmatch(r"[a-z]+", name), line
        if "fdy-worker" in command:
            served.update(parse_queues(command.split()[-1].split(".")[0].replace("-", ",")))
    assert served == set(QUEUE_NAMES)


def test_gunicorn_settings_worker_model_in_one_place(monkeypatch):
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["worker_class"] == conf["WORKER_CLASS"] == "gthread"
    assert conf["bind"].startswith("127.0.0.1:") and conf["timeout"] >= 5
    monkeypatch.setenv("GUNICORN_WORKER_CLASS", "sync")
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert (conf["worker_class"], conf["workers"]) == ("sync", 3)


def test_gunicorn_lines_are_json_with_log_format_json(monkeypatch):
    import io
    import json
    import logging
    import logging.config

    monkeypatch.setenv("LOG_FORMAT", "json")
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert "rid=%({x-request-id}o)s" in conf["access_log_format"]
    config = json.loads(json.dumps(conf["logconfig_dict"]))
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    logging.config.dictConfig(config)
    logger = logging.getLogger("gunicorn.access")
    stream = io.StringIO()
    logger.handlers[0].setStream(stream)
    try:
        logger.info('127.0.0.1 "GET /healthz HTTP/1.1" 200 93 0.004s rid=0123456789abcdef')
        line = json.loads(stream.getvalue())
        assert line["logger"] == "gunicorn.access" and line["msg"].endswith("rid=0123456789abcdef")
    finally:
        for name in ("gunicorn.access", "gunicorn.error"):
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
