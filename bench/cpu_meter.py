"""Machine CPU spent per request while a load runs, split by process (Linux /proc only).

The webhook benchmark's ratio compares two apps on one machine, so what counts is every CPU
second a request costs, wherever it is spent: the gunicorn workers, redis-server, mariadbd,
the load generator itself, and the rest of the machine. Read from /proc before and after a
load; clock ticks (1/100 s), so a measurement needs a few seconds of load to mean anything.
"""
from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
SERVERS = {"redis": ("redis-server",), "mariadb": ("mariadbd", "mysqld")}
HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def available() -> bool:
    return (PROC / "stat").exists()


def _stat_fields(pid: str) -> list[str] | None:
    try:
        text = (PROC / pid / "stat").read_text()
    except OSError:  # gone between listing and reading
        return None
    # comm (field 2) may hold spaces and parentheses: the fields after it start at the last ')'.
    return text[text.rindex(")") + 2:].split()


def _process_ticks(groups: dict[str, int]) -> dict[str, int]:
    """utime + stime of the processes in each named process group and of the servers."""
    ticks = {**{name: 0 for name in groups}, **{name: 0 for name in SERVERS}}
    by_group = {pgid: name for name, pgid in groups.items() if pgid is not None}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(entry.name)
        if fields is None:
            continue
        used = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        group = by_group.get(int(fields[2]))  # pgrp (field 5)
        if group is not None:
            ticks[group] += used
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        for name, comms in SERVERS.items():
            if comm in comms:
                ticks[name] += used
    return ticks


def _machine_busy_ticks() -> int:
    values = [int(v) for v in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(values) - values[3] - values[4]  # all but idle and iowait


def _own_ticks() -> float:
    t = os.times()
    return (t.user + t.system) * HZ  # this process, all its threads: the load generator


class CpuMeter:
    """Sums CPU ticks over several measured stretches; `per_request` divides by the requests."""

    def __init__(self, process_group: int | None, **other_groups: int):
        """`process_group` is counted as "workers"; other_groups (name=pgid) each under its name."""
        self.groups = {"workers": process_group, **other_groups}
        self.totals: dict[str, float] = {}
        self.requests = 0
        self._start: dict[str, float] | None = None

    def _snapshot(self) -> dict[str, float]:
        snap: dict[str, float] = dict(_process_ticks(self.groups))
        snap["client"] = _own_ticks()
        snap["machine"] = _machine_busy_ticks()
        return snap

    def start(self) -> None:
        self._start = self._snapshot() if available() else None

    def stop(self, requests: int) -> None:
        if self._start is None:
            return
        end = self._snapshot()
        for key, value in end.items():
            self.totals[key] = self.totals.get(key, 0.0) + value - self._start[key]
        self.requests += requests
        self._start = None

    def per_request(self) -> dict[str, int] | None:
        """Microseconds of CPU per request by part, with `other` the rest of the machine."""
        if not self.requests or not self.totals:
            return None
        us = {key: ticks / HZ / self.requests * 1e6 for key, ticks in self.totals.items()}
        us["other"] = us["machine"] - sum(v for k, v in us.items() if k != "machine")
        return {key: round(value) for key, value in us.items()}


def describe(per_request: dict[str, int] | None, what: str = "request") -> str:
    if not per_request:
        return f"cpu per {what}: not measured (no /proc)"
    first = ("workers",)
    last = ("redis", "mariadb", "client", "other", "machine")
    order = [*first, *(k for k in per_request if k not in first + last), *last]
    return f"cpu per {what}: " + "  ".join(f"{key} {per_request[key]:,} µs" for key in order if key in per_request)
