"""Progress of a long import: rows read, rows per second, and a bar when the share done is known.

`ProgressBar` draws on a terminal (one line, redrawn) and writes a plain line now and then
elsewhere (a log, journald); `JobProgress` keeps the same text in the RQ job's meta, where
`flask --app wsgi jobs show ID` reads it.
"""
from __future__ import annotations

import sys
import time

BAR_WIDTH = 24


def describe(rows: int, fraction: float | None, elapsed: float) -> str:
    rate = rows / elapsed if elapsed > 0 else 0.0
    text = f"{rows:,} 行，{rate:,.0f} 行/秒"
    if fraction is None:
        return text
    done = int(BAR_WIDTH * fraction)
    return f"[{'#' * done}{'-' * (BAR_WIDTH - done)}] {fraction * 100:5.1f}%  {text}"


class ProgressBar:
    """progress(rows, fraction) for import_graduates, drawn on `stream` (stderr by default)."""

    def __init__(self, stream=None, every: float = 0.2, plain_every: float = 10.0):
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every = every if self.tty else plain_every
        self.started = time.monotonic()
        self.last_drawn = 0.0
        self.text = ""

    def __call__(self, rows: int, fraction: float | None) -> None:
        now = time.monotonic()
        self.text = describe(rows, fraction, now - self.started)
        if now - self.last_drawn >= self.every or fraction == 1.0:
            self.last_drawn = now
            self.stream.write(("\r" + self.text) if self.tty else (self.text + "\n"))
            self.stream.flush()

    def close(self) -> None:
        if self.tty and self.text:
            self.stream.write("\n")
            self.stream.flush()


class JobProgress:
    """progress(rows, fraction) that saves the text in the current RQ job's meta (at most once a second)."""

    def __init__(self, job, every: float = 1.0):
        self.job, self.every = job, every
        self.started = time.monotonic()
        self.last_saved = 0.0

    def __call__(self, rows: int, fraction: float | None) -> None:
        now = time.monotonic()
        if self.job is None or (now - self.last_saved < self.every and fraction != 1.0):
            return
        self.last_saved = now
        self.job.meta["progress"] = describe(rows, fraction, now - self.started)
        try:
            self.job.save_meta()
        except Exception:  # progress is a nicety: never fail an import for it
            pass
