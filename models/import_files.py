"""Reading an import file (SPEC 9.4): a UTF-8 CSV (with or without BOM) or an .xlsx, as a
stream of (line number, cells), and what makes a file as a whole unreadable. Used by the
graduate import (models/importer.py) and the unit import (models/unit_import.py)."""
from __future__ import annotations

import csv
import io
import os
from typing import IO, Iterator

ERRORS_SHOWN = 30


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



def _size_of(fh: IO[bytes]) -> int | None:
    try:
        return os.fstat(fh.fileno()).st_size or None
    except (OSError, AttributeError, io.UnsupportedOperation):
        return None


def error_lines(errors: list[tuple[int, str]], max_errors: int = ERRORS_SHOWN) -> list[str]:
    """An import report's error lines: at most `max_errors` of them, the rest counted."""
    if not errors:
        return []
    lines = ["以下行未导入（其余行已保存）："]
    lines += [f"第{line}行：{reason}" if line else f"文件：{reason}" for line, reason in errors[:max_errors]]
    if len(errors) > max_errors:
        lines.append(f"……另有 {len(errors) - max_errors} 行错误未列出。")
    return lines
