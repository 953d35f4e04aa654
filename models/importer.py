"""Graduate data import (SPEC 9.4): UTF-8 CSV (with or without BOM) or .xlsx.

Rows are read as a stream and written in batches, so memory stays flat
whatever the file size (only the unit tree and the majors are cached, by name). Each bad row
is reported with its line number and every reason; good rows are kept.
Provinces, schools, colleges and majors (with 专业方向) are created on first
sight; a 学号 seen before updates its graduate record.
"""
from __future__ import annotations

import csv
import io
import logging
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter
from typing import IO, Iterator

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert

from . import bulk_load, changes
from .base import utcnow
from .graduates import Graduate
from .units import Major, Unit, create_unit, ensure_ministry
from .vocab import COLLEGE, DESTINATIONS, PROVINCE, SCHOOL, STUDY_LEVELS

log = logging.getLogger(__name__)

COLUMNS = ("学号", "姓名", "省份", "学校", "院系", "专业", "专业方向", "学历层次", "届别", "毕业去向", "就业意愿",
           "求职期望", "关注绑定")
REQUIRED = ("学号", "姓名", "省份", "学校", "院系", "专业", "学历层次", "届别", "毕业去向", "关注绑定")
MAX_LEN = {"学号": 32, "姓名": 50, "省份": 100, "学校": 100, "院系": 100, "专业": 100, "专业方向": 100,
           "就业意愿": 100, "求职期望": 200}
# Rows per transaction. Larger batches write each touched index page once for more rows: at
# national spread (1M graduates, rows landing all over three indexes) 10,000 imported ~1.5x
# faster than 2,000 on SQLite; memory stays a few MB.
BATCH = 10_000
MIN_COHORT, MAX_COHORT = 2000, 2100
ERRORS_SHOWN = 30


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
        if self.errors:
            lines.append("以下行未导入（其余行已保存）：")
            lines += [f"第{line}行：{reason}" if line else f"文件：{reason}" for line, reason in self.errors[:max_errors]]
            if len(self.errors) > max_errors:
                lines.append(f"……另有 {len(self.errors) - max_errors} 行错误未列出。")
        return "\n".join(lines)


class ImportError_(ValueError):
    """The file as a whole cannot be read (not a row problem)."""


# ---------------------------------------------------------------- reading
def _open_binary(path_or_file) -> tuple[IO[bytes], bool]:
    if isinstance(path_or_file, (str, os.PathLike)):
        return open(path_or_file, "rb"), True
    if isinstance(path_or_file, io.TextIOBase):
        raise TypeError("pass a path or a binary file object")
    return path_or_file, False


def _is_xlsx(fh: IO[bytes], filename: str | None) -> bool:
    if filename and filename.lower().endswith(".xlsx"):
        return True
    if filename and filename.lower().endswith(".csv"):
        return False
    pos = fh.tell()
    head = fh.read(4)
    fh.seek(pos)
    return head == b"PK\x03\x04"


def _csv_rows(fh: IO[bytes]) -> Iterator[tuple[int, list]]:
    """(line number of the record's first line, cells) for each CSV record, read lazily."""
    # utf-8-sig drops a BOM when present; a decoding error surfaces at the chunk that has it.
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="strict", newline="")
    reader = csv.reader(text)
    start = 1
    try:
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise ImportError_(f"第{reader.line_num + 1}行附近不是 UTF-8 编码：请在表格软件中另存为“CSV UTF-8”后重试")
            except csv.Error:
                # csv's own message is English: say what it means to someone holding a spreadsheet.
                raise ImportError_(f"第{reader.line_num}行 CSV 格式错误：引号不成对或一格内容过长，"
                                   "请在表格软件中检查该行后另存为“CSV UTF-8”")
            yield start, row
            start = reader.line_num + 1
    finally:
        text.detach()  # leave the caller's file open


def _xlsx_rows(fh: IO[bytes]) -> Iterator[tuple[int, list]]:
    from openpyxl import load_workbook  # import here: slow to load, and only .xlsx files need it

    try:
        book = load_workbook(fh, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a broken file
        raise ImportError_("无法读取 .xlsx 文件：文件可能已损坏，或并不是 Excel 文件；请用表格软件重新另存为 .xlsx")
    try:
        sheet = book.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(values_only=True), 1):
            yield number, list(row)
    finally:
        book.close()


def _cell(value) -> str:
    if value.__class__ is str:  # every CSV cell: the common case first
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


# ------------------------------------------------------------- validation
def check_header(cells: list) -> tuple[dict[str, int] | None, str | None]:
    names = [_cell(c).lstrip("\ufeff") for c in cells]
    while names and not names[-1]:
        names.pop()
    positions = {name: i for i, name in enumerate(names)}
    missing = [c for c in COLUMNS if c not in positions]
    unknown = [n for n in names if n not in COLUMNS]
    dup = sorted({n for n in names if names.count(n) > 1})
    problems = []
    if missing:
        problems.append("缺少列：" + "、".join(missing))
    if unknown:
        problems.append("无法识别的列：" + "、".join(x or "（空）" for x in unknown))
    if dup:
        problems.append("重复的列：" + "、".join(dup))
    if problems:
        return None, "表头不正确（" + "；".join(problems) + "）。表头应为：" + ",".join(COLUMNS)
    return positions, None


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_COHORT = re.compile(r"\d{4}")


@lru_cache(maxsize=8)
def _picker(columns: tuple[int, ...]) -> itemgetter:
    return itemgetter(*columns)


def _values(cells: list, positions: dict[str, int]) -> dict[str, str]:
    """The row's cells by column name. A CSV row (all text, none missing) takes the C-level path:
    it is most of the import's Python time at 100k rows."""
    try:
        return dict(zip(positions, map(str.strip, _picker(tuple(positions.values()))(cells))))
    except (IndexError, TypeError):  # a short row, or an .xlsx cell that is not text
        return {name: _cell(cells[i]) if i < len(cells) else "" for name, i in positions.items()}


def parse_row(cells: list, positions: dict[str, int]) -> tuple[dict | None, list[str]]:
    values = _values(cells, positions)
    reasons = [f"{name}为空" for name in REQUIRED if not values[name]]
    for name, limit in MAX_LEN.items():
        if len(values[name]) > limit:
            reasons.append(f"{name}超过{limit}个字")
    # NUL and other control characters are damage, not data (a 学号 "S\x0012" is not S12).
    damaged = []
    if _CONTROL.search("".join(values.values())):  # one search per row; the names only when there is damage
        damaged = [name for name, value in values.items() if _CONTROL.search(value)]
    if damaged:
        reasons.append(f"{'、'.join(damaged)}含有不可见的控制字符，请检查文件是否损坏")
    if values["学历层次"] and values["学历层次"] not in STUDY_LEVELS:
        reasons.append(f"学历层次“{values['学历层次']}”无效（应为{'/'.join(STUDY_LEVELS)}）")
    cohort = values["届别"]
    if cohort and not (_COHORT.fullmatch(cohort) and MIN_COHORT <= int(cohort) <= MAX_COHORT):
        reasons.append(f"届别“{cohort}”不是4位毕业年份")
    if values["毕业去向"] and values["毕业去向"] not in DESTINATIONS:
        reasons.append(f"毕业去向“{values['毕业去向']}”无效（应为：{'、'.join(DESTINATIONS)}）")
    if values["关注绑定"] and values["关注绑定"] not in ("是", "否"):
        reasons.append(f"关注绑定“{values['关注绑定']}”应为“是”或“否”")
    if reasons:
        return None, reasons
    return values, []


# --------------------------------------------------------------- writing
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


def _size_of(fh: IO[bytes]) -> int | None:
    try:
        return os.fstat(fh.fileno()).st_size or None
    except (OSError, AttributeError, io.UnsupportedOperation):
        return None


def import_graduates(session, path_or_file, *, filename: str | None = None, batch_size: int = BATCH,
                     progress=None) -> ImportReport:
    """Import a CSV or .xlsx of graduates; commits per batch. Never raises for bad data.

    `progress(lines_read, fraction_or_None)` is called after each batch (fraction: of a CSV's bytes).
    """
    report = ImportReport()
    if filename is None and isinstance(path_or_file, (str, os.PathLike)):
        filename = os.fspath(path_or_file)
    try:
        fh, close = _open_binary(path_or_file)
    except OSError:
        report.errors.append((0, "无法打开文件：文件不存在，或没有读取权限"))
        return report
    batch: list[tuple[int, dict]] = []
    cache = None
    rows = None
    try:
        xlsx = _is_xlsx(fh, filename)
        size = None if xlsx else _size_of(fh)
        rows = _xlsx_rows(fh) if xlsx else _csv_rows(fh)
        positions = None
        cache = _UnitCache(session, report)
        for line, cells in rows:
            if not any(_cell(c) for c in cells):
                continue  # blank lines are not rows
            if positions is None:
                positions, problem = check_header(cells)
                if problem:
                    report.errors.append((line, problem))
                    return report
                continue
            values, reasons = parse_row(cells, positions)
            if values is None:
                report.errors.append((line, "；".join(reasons)))
                continue
            batch.append((line, values))
            if len(batch) >= batch_size:
                _write_batch(session, cache, batch, report)
                batch = []
                if progress is not None:
                    progress(line, min(fh.tell() / size, 1.0) if size else None)
        if positions is None:
            report.errors.append((1, "文件为空：第一行应为表头 " + ",".join(COLUMNS)))
    except ImportError_ as exc:
        report.errors.append((0, str(exc)))
    finally:
        if rows is not None:
            rows.close()  # finish the reader (detaches its wrapper) while the file is still open
        if close:
            fh.close()
    if batch:  # good rows read before a file-level problem are kept too
        _write_batch(session, cache, batch, report)
    if progress is not None:
        progress(report.created + report.updated + len(report.errors), 1.0)
    log.info("graduate import: %s created, %s updated, %s bad rows", report.created, report.updated,
             len(report.errors))
    return report
