"""Phone browsers for bench/pages.py: cookies, redirects, and a closed loop of many of them.

A `Browser` is one phone: its own cookies (per host:port), a new connection per request (a
counselor's tap is a phone of its own), redirects followed by hand so that the simulator's
authorize page learns which WeChat user is tapping (`sim_openid`, as its chat page would say).
"""
from __future__ import annotations

import http.client
import itertools
import threading
import time
from urllib.parse import urlsplit

from bench.common import summary_ms

MAX_HOPS = 6


class Browser:
    def __init__(self, openid: str | None = None, sim_base: str | None = None):
        self.openid = openid
        self.sim_base = sim_base
        self.cookies: dict[str, dict[str, str]] = {}

    def _request(self, url: str, timeout: float) -> tuple[int, str | None, bytes]:
        parts = urlsplit(url)
        netloc = parts.netloc
        jar = self.cookies.setdefault(netloc, {})
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        try:
            conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            for raw in resp.msg.get_all("Set-Cookie") or ():
                pair, _, attrs = raw.partition(";")
                name, _, value = pair.strip().partition("=")
                if not value or "max-age=0" in attrs.lower() or "expires=thu, 01 jan 1970" in attrs.lower():
                    jar.pop(name, None)
                else:
                    jar[name] = value
            return resp.status, resp.getheader("Location"), body
        finally:
            conn.close()

    def open(self, url: str, timeout: float = 10.0) -> tuple[int, bytes, int]:
        """GET url and follow redirects: (final status, body, requests made)."""
        origin = urlsplit(url)
        for hop in range(1, MAX_HOPS + 1):
            status, location, body = self._request(url, timeout)
            if status not in (301, 302, 303, 307) or not location:
                return status, body, hop
            location = location.split("#", 1)[0]
            if location.startswith("/"):
                location = f"{origin.scheme}://{origin.netloc}{location}"
            if self.sim_base and location.startswith(self.sim_base) and self.openid:
                location += ("&" if "?" in location else "?") + f"sim_openid={self.openid}"
            url, origin = location, urlsplit(location)
        return 0, b"too many redirects", MAX_HOPS


def closed_loop(op, threads: int, seconds: float, max_ops: int) -> dict:
    """`threads` users, each running op(k) -> (ok, sample) back to back until time, ops or
    op's own supply (StopIteration) run out. Latency of every op; errors and bad answers counted."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    bad = [0] * threads
    samples: list[str] = []
    budget = itertools.count()
    stop_at = time.perf_counter() + seconds
    done = threading.Event()

    def run(i: int):
        while not done.is_set() and time.perf_counter() < stop_at:
            k = next(budget)
            if k >= max_ops:
                return
            t0 = time.perf_counter()
            try:
                ok, sample = op(k)
            except StopIteration:
                done.set()
                return
            except OSError as exc:
                errors[i] += 1
                if len(samples) < 3:
                    samples.append(f"error: {exc}")
                continue
            latencies[i].append(time.perf_counter() - t0)
            if not ok:
                bad[i] += 1
                if len(samples) < 3:
                    samples.append(sample)

    workers = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(threads)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=seconds + 60)
    elapsed = time.perf_counter() - t0
    flat = [x for per in latencies for x in per]
    out = summary_ms(flat)
    out.update(rate=len(flat) / elapsed if elapsed else 0.0, seconds=elapsed, errors=sum(errors),
               unexpected=sum(bad), samples=samples, latencies=flat)
    return out
