"""Units before data (SPEC 1, 9.3 `units import`): a list of provinces, schools and colleges.

UTF-8 CSV (or .xlsx) with the header `省份,学校,院系` (院系 may be empty for a school row). What is
missing is added, nothing that exists is changed, and bad lines are reported by number; good
lines are kept. So a province can add a school's account before the school has reported any
graduate, and a school its colleges' accounts.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from sqlalchemy import select

from .text import norm
from .import_files import (ERRORS_SHOWN, ImportError_, _cell, _csv_rows, _is_xlsx, _open_binary, _size_of, _xlsx_rows,
                           error_lines)
from .units import ensure_ministry
from .units import Unit, create_unit
from .vocab import COLLEGE, PROVINCE, SCHOOL

log = logging.getLogger(__name__)

UNIT_COLUMNS = ("省份", "学校", "院系")
MAX_NAME = 100
KIND_NAMES = {PROVINCE: "省份", SCHOOL: "学校", COLLEGE: "院系"}


@dataclass
class UnitReport:
    created: dict[str, int] = field(default_factory=lambda: {PROVINCE: 0, SCHOOL: 0, COLLEGE: 0})
    existing: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def summary(self, max_errors: int = ERRORS_SHOWN) -> str:
        made = "，".join(f"{KIND_NAMES[k]} {n} 个" for k, n in self.created.items())
        lines = [f"单位导入完成：新增{made}；已存在（未改动）{self.existing} 行；错误 {len(self.errors)} 行。"]
        lines += error_lines(self.errors, max_errors)
        return "\n".join(lines)


def _header(cells) -> tuple[dict[str, int] | None, str | None]:
    names = [_cell(c).lstrip("\ufeff") for c in cells]
    while names and not names[-1]:
        names.pop()
    if sorted(names) != sorted(UNIT_COLUMNS):
        return None, f"表头不正确（{','.join(n or '（空）' for n in names[:6])}）。表头应为：{','.join(UNIT_COLUMNS)}"
    return {name: names.index(name) for name in UNIT_COLUMNS}, None


def _line(cells, positions) -> tuple[tuple[str, str, str] | None, list[str]]:
    values = [norm(_cell(cells[i]) if i < len(cells) else "")[:MAX_NAME + 1] for i in positions.values()]
    reasons = [f"{name}为空" for name, value in zip(UNIT_COLUMNS[:2], values[:2]) if not value]
    reasons += [f"{name}超过{MAX_NAME}字" for name, value in zip(UNIT_COLUMNS, values) if len(value) > MAX_NAME]
    return (None if reasons else tuple(values)), reasons


class _Tree:
    """Units by (kind, parent, name), loaded as needed; missing ones created."""

    def __init__(self, session, report: UnitReport):
        self.session, self.report = session, report
        self.known: dict[tuple[str, int, str], int] = {}

    def get(self, kind: str, parent: Unit | int, name: str) -> tuple[int, bool]:
        parent_id = parent if isinstance(parent, int) else parent.id
        key = (kind, parent_id, name)
        if key in self.known:
            return self.known[key], False
        found = self.session.scalar(select(Unit.id).where(Unit.kind == kind, Unit.parent_id == parent_id,
                                                          Unit.name == name))
        created = found is None
        if created:
            found = create_unit(self.session, kind, name, self.session.get(Unit, parent_id)).id
            self.report.created[kind] += 1
        self.known[key] = found
        return found, created


PROGRESS_EVERY = 1000  # lines between two progress calls


def import_units(session, path_or_file, *, filename: str | None = None, progress=None) -> UnitReport:
    """Add the provinces, schools and colleges of a unit list; commits. Never raises for bad data.

    `progress(lines_read, fraction_or_None)` is called every PROGRESS_EVERY lines and at the end.
    """
    report = UnitReport()
    if filename is None and isinstance(path_or_file, (str, os.PathLike)):
        filename = os.fspath(path_or_file)
    try:
        fh, close = _open_binary(path_or_file)
    except OSError as exc:
        report.errors.append((0, f"无法打开文件（{exc.strerror or type(exc).__name__}）"))
        return report
    rows = None
    positions = None
    lines = 0
    try:
        tree = _Tree(session, report)
        ministry = ensure_ministry(session)
        xlsx = _is_xlsx(fh, filename)
        size = None if xlsx else _size_of(fh)
        rows = _xlsx_rows(fh) if xlsx else _csv_rows(fh)
        for number, cells in rows:
            if progress is not None and number % PROGRESS_EVERY == 0:
                progress(number, min(fh.tell() / size, 1.0) if size else None)
            if not any(_cell(c) for c in cells):
                continue
            if positions is None:
                positions, problem = _header(cells)
                if problem:
                    report.errors.append((number, problem))
                    return report
                continue
            lines += 1
            names, reasons = _line(cells, positions)
            if names is None:
                report.errors.append((number, "；".join(reasons)))
                continue
            province_id, new_p = tree.get(PROVINCE, ministry, names[0])
            school_id, new_s = tree.get(SCHOOL, province_id, names[1])
            new_c = tree.get(COLLEGE, school_id, names[2])[1] if names[2] else False
            if not (new_p or new_s or new_c):
                report.existing += 1
        if positions is None:
            report.errors.append((1, "文件为空：第一行应为表头 " + ",".join(UNIT_COLUMNS)))
        session.commit()
    except ImportError_ as exc:
        session.commit()  # lines read before a file-level problem are kept
        report.errors.append((0, str(exc)))
    finally:
        if rows is not None:
            rows.close()
        if close:
            fh.close()
    if progress is not None:
        progress(lines, 1.0)
    log.info("unit import: %s created, %s existing, %s bad lines", report.created, report.existing,
             len(report.errors))
    return report
