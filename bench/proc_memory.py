"""Resident memory of the processes a benchmark started (Linux /proc only).

`rss_by_process(pgid)` reads VmRSS (now) and VmHWM (the peak since the process started) of
every process in a process group: a gunicorn master and its workers, or an RQ worker and the
work horses it forks. `PeakSampler` polls a group while a load runs, because a work horse lives
for one job and its peak is gone with it.
"""
from __future__ import annotations

import threading
from pathlib import Path

PROC = Path("/proc")
MB = 1024 * 1024


def _status(pid: str) -> dict[str, str] | None:
    try:
        text = (PROC / pid / "status").read_text()
    except OSError:
        return None
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _kib(value: str | None) -> int:
    return int(value.split()[0]) * 1024 if value else 0


def rss_by_process(pgid: int) -> list[dict]:
    """[{pid, ppid, name, rss, peak}] (bytes) of the live processes in process group `pgid`."""
    out = []
    if not PROC.exists():
        return out
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) != pgid:
            continue
        status = _status(entry.name)
        if status is None:
            continue
        out.append({"pid": int(entry.name), "ppid": int(fields[1]), "name": status.get("Name", "").strip(),
                    "rss": _kib(status.get("VmRSS")), "peak": _kib(status.get("VmHWM"))})
    return sorted(out, key=lambda p: p["pid"])


def web_workers(master_pid: int) -> list[dict]:
    """The gunicorn workers (children of the master) with their RSS and peak RSS."""
    return [p for p in rss_by_process(master_pid) if p["ppid"] == master_pid]


class PeakSampler:
    """Polls process groups every `interval` s; `peaks()` is the largest RSS seen per process."""

    def __init__(self, *pgids: int, interval: float = 0.2):
        self.pgids = pgids
        self.interval = interval
        self._peaks: dict[int, dict] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for pgid in self.pgids:
            for p in rss_by_process(pgid):
                seen = self._peaks.get(p["pid"])
                peak = max(p["rss"], p["peak"], seen["rss"] if seen else 0)
                self._peaks[p["pid"]] = {**p, "rss": peak}

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self):
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        self._sample()

    def peaks(self) -> list[dict]:
        return sorted(self._peaks.values(), key=lambda p: p["pid"])


def describe(processes: list[dict]) -> str:
    return ", ".join(f"{p['name']}[{p['pid']}] {p['rss'] / MB:.0f} MB" for p in processes) or "none seen"
