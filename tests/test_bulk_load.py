"""LOAD DATA LOCAL for an import's new rows (models/bulk_load.py): every value arrives as it was
sent, a row the server would skip or cut fails the batch, and no connection serves a file
outside load_rows.

Runs on MariaDB in both legs of `make test` (FDY_TEST_MARIADB_URL); it fails without one.
"""
from __future__ import annotations


import pytest
from sqlalchemy import text

from models import bulk_load
from models.base import make_engine

TABLE = "fdy_test_bulk_load"
COLUMNS = ("code", "name", "n", "flag", "at")
AT = "2026-03-01 08:00:00"

# What a CSV cell may hold once the importer has accepted it: separators of other formats,
# escapes, quotes, SQL's words for NULL, four-byte characters.
AWKWARD = ["反斜杠\\结尾\\", "\\N", "NULL", "制表\t符", "换\n行\r回车", "'单引号' \"双引号\"", "😀 表情", "", "0x1f"]


@pytest.fixture
def engine(mariadb_url):
    engine = make_engine(mariadb_url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
        conn.execute(text(f"CREATE TABLE {TABLE} (id INT AUTO_INCREMENT PRIMARY KEY, code VARCHAR(8) NOT NULL UNIQUE,"
                          " name VARCHAR(20) NOT NULL, n INT NOT NULL, flag TINYINT(1) NOT NULL, at DATETIME NOT NULL)"
                          " CHARACTER SET utf8mb4"))
    yield engine
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
    engine.dispose()


def stored(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT code, name, n, flag, at FROM {TABLE} ORDER BY id"))]


def test_values_arrive_exactly_as_sent(engine):
    rows = [(f"C{i}", value, i - 3, i % 2, AT) for i, value in enumerate(AWKWARD)]
    with engine.begin() as conn:
        assert bulk_load.available(conn)
        bulk_load.load_rows(conn, TABLE, COLUMNS, rows)
    got = stored(engine)
    assert [(code, name, n, flag) for code, name, n, flag, _ in got] == [row[:4] for row in rows]
    assert {str(at) for *_, at in got} == {AT}


def test_a_duplicate_fails_the_batch_instead_of_being_skipped(engine):
    with engine.begin() as conn:
        bulk_load.load_rows(conn, TABLE, COLUMNS, [("A", "first", 1, 0, AT)])
    with pytest.raises(bulk_load.LoadIncomplete, match="loaded 1 of 2"):
        with engine.begin() as conn:
            bulk_load.load_rows(conn, TABLE, COLUMNS, [("B", "new", 2, 0, AT), ("A", "again", 3, 0, AT)])
    assert [name for _, name, *_ in stored(engine)] == ["first"]  # B rolled back with the batch


def test_a_value_the_server_would_cut_fails_the_batch(engine):
    with pytest.raises(bulk_load.LoadIncomplete, match="warnings"):
        with engine.begin() as conn:
            bulk_load.load_rows(conn, TABLE, COLUMNS, [("L", "长" * 21, 1, 0, AT)])
    assert stored(engine) == []


def test_a_separator_inside_a_value_is_refused(engine):
    with pytest.raises(ValueError, match="separator"):
        with engine.begin() as conn:
            bulk_load.load_rows(conn, TABLE, COLUMNS, [("S", "a\x1fb", 1, 0, AT)])
    assert stored(engine) == []


def test_no_connection_serves_a_file_outside_load_rows(engine, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("X\x1fleaked\x1f1\x1f0\x1f" + AT)
    with engine.begin() as conn:
        bulk_load.load_rows(conn, TABLE, COLUMNS, [("OK", "loaded", 1, 0, AT)])  # armed, then disarmed
    with engine.connect() as conn:  # the same pooled connection, asked directly
        cursor = conn.connection.dbapi_connection.cursor()
        with pytest.raises(RuntimeError, match="local_infile"):
            cursor.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE {TABLE} FIELDS TERMINATED BY 0x1f "
                           f"({', '.join(COLUMNS)})", (str(secret),))
        conn.invalidate()  # PyMySQL refused mid-exchange: that connection is out of step, drop it
    assert [code for code, *_ in stored(engine)] == ["OK"]


def test_without_the_capability_the_importer_inserts_as_before(mariadb_url):
    from sqlalchemy import create_engine

    plain = create_engine(mariadb_url)  # no bulk_load.enable: what a server or driver without LOCAL looks like
    try:
        with plain.connect() as conn:
            assert bulk_load.available(conn) is False
    finally:
        plain.dispose()
