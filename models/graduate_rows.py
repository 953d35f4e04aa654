"""Writing imported graduates (SPEC 9.4): a batch of checked rows becomes new and updated
graduate rows, the units and majors they name created on first sight, the counts in the
report. Reading and checking the file is models/importer.py's part."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert

from . import bulk_load, changes
from .base import utcnow
from .graduates import Graduate
from .import_files import ERRORS_SHOWN, error_lines
from .units import Major, Unit, create_unit, ensure_ministry
from .vocab import COLLEGE, PROVINCE, SCHOOL


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    units_created: int = 0
    majors_created: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self, max_errors: int = ERRORS_SHOWN) -> str:
        """The report in Chinese; at most `max_errors` error lines (the rest counted)."""
        lines = [f"导入完成：新增 {self.created} 条，更新 {self.updated} 条，错误 {len(self.errors)} 行。"]
        if self.units_created or self.majors_created:
            lines.append(f"新建单位 {self.units_created} 个，专业 {self.majors_created} 个。")
        lines += error_lines(self.errors, max_errors)
        return "\n".join(lines)



_FIELDS = ("name", "province_id", "school_id", "college_id", "major_id", "study_level", "cohort", "destination",
           "intention", "expectation", "follows_bound")


class _UnitCache:
    """Unit and major ids by name path; creates what is missing.

    The whole tree is read once (two SELECTs) on first use: at national spread nearly every row
    names a college or major not seen before in the file, so looking each up costs far more than
    loading them all. A name not in the preload is still looked up before being created: the
    database's collation decides what "the same name" is, as it did for one lookup per name.
    """

    def __init__(self, session, report: ImportReport):
        self.session, self.report = session, report
        self.ministry_id = ensure_ministry(session).id
        self.units: dict[tuple, int] | None = None   # (kind, parent_id, name) -> id
        self.majors: dict[tuple, int] | None = None  # (college_id, name, direction) -> id

    def _preload(self) -> None:
        # Core rows on the session's connection (no ORM result machinery): 150k majors nationally.
        conn = self.session.connection()
        self.units = {(kind, parent_id, name): id_ for kind, parent_id, name, id_ in conn.execute(
            select(Unit.kind, Unit.parent_id, Unit.name, Unit.id))}
        self.majors = {(college_id, name, direction): id_ for college_id, name, direction, id_ in conn.execute(
            select(Major.college_id, Major.name, Major.direction, Major.id))}

    def unit(self, kind: str, name: str, parent_id: int) -> int:
        if self.units is None:
            self._preload()
        key = (kind, parent_id, name)
        unit_id = self.units.get(key)
        if unit_id is None:
            unit_id = self.session.scalar(select(Unit.id).where(
                Unit.kind == kind, Unit.name == name, Unit.parent_id == parent_id))
            if unit_id is None:
                unit_id = create_unit(self.session, kind, name, self.session.get(Unit, parent_id)).id
                self.report.units_created += 1
            self.units[key] = unit_id
        return unit_id

    def major(self, college_id: int, name: str, direction: str) -> int:
        if self.majors is None:
            self._preload()
        key = (college_id, name, direction)
        major_id = self.majors.get(key)
        if major_id is None:
            major_id = self.session.scalar(select(Major.id).where(
                Major.college_id == college_id, Major.name == name, Major.direction == direction))
            if major_id is None:
                major = Major(college_id=college_id, name=name, direction=direction)
                self.session.add(major)
                self.session.flush()
                major_id = major.id
                self.report.majors_created += 1
            self.majors[key] = major_id
        return major_id


def _write_batch(session, cache: _UnitCache, batch: list[tuple[int, dict]], report: ImportReport) -> None:
    """Write a batch: one SELECT, one INSERT executemany of new rows, one UPDATE of changed rows.

    Rows are carried as tuples in _FIELDS order (a dict per row was a fifth of the import's time)."""
    # (school, 学号) -> values: a 学号 is unique within its school only, so another school's row with
    # the same 学号 is another graduate. The same key twice in one batch: the later row wins.
    wanted: dict[tuple[int, str], tuple] = {}
    places: dict[tuple[str, str, str], tuple[int, int, int]] = {}
    keys = []
    for _, v in batch:
        names = (v["省份"], v["学校"], v["院系"])
        place = places.get(names)
        if place is None:
            province_id = cache.unit(PROVINCE, names[0], cache.ministry_id)
            school_id = cache.unit(SCHOOL, names[1], province_id)
            place = places[names] = (province_id, school_id, cache.unit(COLLEGE, names[2], school_id))
        key = (place[1], v["学号"])
        keys.append(key)
        wanted[key] = (v["姓名"], *place, cache.major(place[2], v["专业"], v["专业方向"]), v["学历层次"],
                       int(v["届别"]), v["毕业去向"], v["就业意愿"], v["求职期望"], v["关注绑定"] == "是")
    table = Graduate.__table__
    stored = {(row.school_id, row.student_no): row for row in session.execute(
        select(table.c.id, table.c.student_no, *(table.c[name] for name in _FIELDS))
        .where(table.c.student_no.in_(list({number for _, number in wanted}))))}
    # Counted per row as before: a key seen earlier (stored, or earlier in this batch) is an update.
    seen: set[tuple[int, str]] = set()
    for key in keys:
        if key in stored or key in seen:
            report.updated += 1
        else:
            report.created += 1
            seen.add(key)
    new_rows, changed = [], []
    for (_, number), values in wanted.items():
        row = stored.get((values[2], number))
        if row is None:
            new_rows.append((number, *values))
        elif tuple(row[2:]) != values:
            # Unchanged rows are left alone (and keep their updated_at), as the ORM did.
            changed.append((row[0], number, dict(zip(_FIELDS, values))))
    if new_rows:
        _insert_rows(session, table, new_rows)
    if changed:
        _update_rows(session, table, changed)
    session.commit()


_INSERT_COLUMNS = ("student_no", *_FIELDS, "updated_at")


def _insert_rows(session, table, rows: list[tuple]) -> None:
    """New graduates, (student_no, *_FIELDS) each: by LOAD DATA on MariaDB/MySQL where the server
    allows it (models/bulk_load.py), else straight through the driver's executemany:
    SQLAlchemy's per-row parameter processing cost more than SQLite's insert itself. The
    statement is compiled by SQLAlchemy for the session's dialect (its paramstyle); the write
    is recorded for the change tokens, as the session's own events would have."""
    conn = session.connection()
    # updated_at in the form SQLAlchemy stores it (the driver's own adapter would differ on
    # SQLite, and run once per row instead of once per batch).
    bind = table.c.updated_at.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    now = bind(utcnow()) if bind else utcnow()
    if bulk_load.available(conn):
        bulk_load.load_rows(conn, table.name, _INSERT_COLUMNS, [(*row, now) for row in rows])
    else:
        _executemany(conn, table, [(*row, now) for row in rows])
    changes.wrote(session, table.name)


def _executemany(conn, table, rows: list[tuple]) -> None:
    compiled = insert(table).compile(dialect=conn.dialect, column_keys=list(_INSERT_COLUMNS))
    if compiled.positional:
        at = {key: i for i, key in enumerate(_INSERT_COLUMNS)}
        order = [at[key] for key in compiled.positiontup]
        params = rows if order == sorted(order) else [tuple(row[i] for i in order) for row in rows]
    else:
        params = [dict(zip(_INSERT_COLUMNS, row)) for row in rows]
    conn.exec_driver_sql(str(compiled), params)


def _update_rows(session, table, changed: list[tuple[int, str, dict]]) -> None:
    if session.get_bind().dialect.name in ("mysql", "mariadb"):
        # An UPDATE executemany is one round trip per row on MySQL drivers; an INSERT … ON DUPLICATE
        # KEY UPDATE on the primary key is sent as multi-row statements. Every id exists (just read).
        now = utcnow()
        rows = [dict(fields_, id=id_, student_no=number, updated_at=now) for id_, number, fields_ in changed]
        stmt = mysql_insert(table)
        stmt = stmt.on_duplicate_key_update({name: stmt.inserted[name] for name in (*_FIELDS, "updated_at")})
        session.execute(stmt, rows)
        return
    session.execute(update(table).where(table.c.id == bindparam("_id")),
                    [dict(fields_, _id=id_) for id_, _, fields_ in changed])

