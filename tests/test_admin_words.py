"""What admins read is Chinese: import errors and menu push failures say what is wrong in words,
never a Python exception's or WeChat's English text (SPEC 6 wording; issue 17)."""
from __future__ import annotations

import io
import re

from models.importer import COLUMNS, import_graduates

# Words of English longer than an abbreviation; CSV, UTF-8, .xlsx, Excel, key and WECHAT_* are ours.
ENGLISH = re.compile(r"\b(?!(?:CSV|UTF|xlsx|Excel|key|AppSecret|WECHAT_APP_SECRET)\b)[A-Za-z]{4,}\b")


def test_broken_files_are_reported_in_words(db, tmp_path):
    reports = [
        import_graduates(db, io.BytesIO(b"PK\x03\x04 not really a workbook"), filename="bad.xlsx"),
        import_graduates(db, str(tmp_path / "missing.csv")),
        import_graduates(db, io.BytesIO((",".join(COLUMNS) + '\n"' + "长" * 140000 + '",x\n').encode()),
                         filename="huge.csv"),
    ]
    for report in reports:
        assert report.errors, report
        for _line, reason in report.errors:
            assert not ENGLISH.search(reason), reason
    assert "无法读取 .xlsx 文件" in reports[0].errors[0][1]
    assert "CSV 格式错误" in reports[2].errors[0][1]


def test_menu_push_failure_is_explained(app, ctx, simulator):
    from jobs.menus import push_menus_job

    simulator.add_faults({"path": "/cgi-bin/menu/addconditional", "errcode": 40016, "times": 1})
    outcome = push_menus_job()
    assert not outcome["ok"] and "40016" in outcome["text"] and "按钮个数不合法" in outcome["text"]
    assert not ENGLISH.search(outcome["text"]), outcome["text"]
