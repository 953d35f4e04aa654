"""New rows into MariaDB/MySQL by LOAD DATA LOCAL INFILE, on the session's own connection.

An import's INSERT … VALUES spends most of its time in PyMySQL quoting every value in Python and
in the server parsing the statement back; LOAD DATA takes the rows as delimited text. The rows
go through the session's connection, so they are in the batch's transaction (its new units and
majors are visible to the foreign keys, and a failure rolls the batch back as before).

LOCAL INFILE lets the server ask the client for a file by name. Every pooled connection
announces the capability (`enable`), but PyMySQL serves no file unless the connection is armed,
and `load_rows` arms it only for its own statement, naming its own temporary file: a server
that asks at any other moment gets PyMySQL's refusal. Servers that disable it (MySQL 8's
default) are asked once per connection; the caller then inserts as before.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager

from pymysql.constants import CLIENT
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

# Field and line separators no accepted value contains: the importer rejects every control
# character but tab, CR and LF, so only the escape character itself needs escaping.
FIELD, LINE = "\x1f", "\x1e"
_AVAILABLE = "fdy_local_infile"


def enable(engine: Engine) -> None:
    """Announce LOCAL INFILE on the engine's MariaDB/MySQL connections (the capability only)."""
    if engine.dialect.name not in ("mysql", "mariadb"):
        return
    @event.listens_for(engine, "do_connect")
    def _announce_local_files(_dialect, _record, _cargs, cparams):
        cparams["client_flag"] = cparams.get("client_flag", 0) | CLIENT.LOCAL_FILES


def available(conn: Connection) -> bool:
    """Whether LOAD DATA LOCAL can be used on this connection (asked once per DBAPI connection)."""
    if conn.dialect.name not in ("mysql", "mariadb"):
        return False
    dbapi_conn = conn.connection.dbapi_connection
    if not hasattr(dbapi_conn, "_local_infile"):  # not PyMySQL: its guard is what makes this safe
        return False
    info = conn.connection.info
    if _AVAILABLE not in info:
        announced = bool(dbapi_conn.client_flag & CLIENT.LOCAL_FILES)
        info[_AVAILABLE] = announced and bool(conn.exec_driver_sql("SELECT @@local_infile").scalar())
    return info[_AVAILABLE]


@contextmanager
def _armed(dbapi_conn):
    dbapi_conn._local_infile = True
    try:
        yield
    finally:
        dbapi_conn._local_infile = False


def _text(rows: list[tuple], width: int) -> bytes:
    def cell(value) -> str:
        if value is True or value is False:
            return "1" if value else "0"
        if value is None:
            raise ValueError("LOAD DATA rows here carry no NULLs")
        return str(value)

    text = LINE.join(FIELD.join(map(cell, row)) for row in rows)
    # A separator inside a value would shift every later column: refuse rather than misload.
    if text.count(FIELD) != len(rows) * (width - 1) or text.count(LINE) != len(rows) - 1:
        raise ValueError("a value contains a LOAD DATA separator")
    return text.replace("\\", "\\\\").encode("utf-8")


def load_rows(conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Insert `rows` (tuples in `columns` order, no NULLs) into `table`; every row or an error.

    LOCAL implies IGNORE (a duplicate key or a too-long value becomes a warning and the row is
    skipped or cut), so the statement's count and warnings are checked: anything short of all
    rows loaded cleanly raises, and the caller's transaction rolls the batch back.
    """
    if not rows:
        return
    dbapi_conn = conn.connection.dbapi_connection
    fd, path = tempfile.mkstemp(prefix="fdy-load-", suffix=".txt")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(_text(rows, len(columns)))
        quoted = ", ".join(f"`{c}`" for c in columns)
        sql = (f"LOAD DATA LOCAL INFILE %s INTO TABLE `{table}` CHARACTER SET utf8mb4 "
               f"FIELDS TERMINATED BY 0x1f ESCAPED BY '\\\\' LINES TERMINATED BY 0x1e ({quoted})")
        with _armed(dbapi_conn):
            cursor = dbapi_conn.cursor()
            try:
                loaded = cursor.execute(sql, (path,))
                warnings = cursor.warning_count
            finally:
                cursor.close()
    finally:
        os.unlink(path)
    if loaded != len(rows) or warnings:
        detail = ""
        if warnings:
            detail = "; ".join(f"{level} {code}: {message}" for level, code, message in
                               conn.exec_driver_sql("SHOW WARNINGS LIMIT 3").all())
        raise LoadIncomplete(f"LOAD DATA loaded {loaded} of {len(rows)} rows into {table} "
                             f"with {warnings} warnings{': ' + detail if detail else ''}")


class LoadIncomplete(RuntimeError):
    """Some rows were skipped or changed by the server: the batch must not be committed."""
