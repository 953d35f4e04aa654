"""`graduates import` shows a bar with rows per second; `--background` returns a job id that
`flask --app wsgi jobs show` reports, with the job's progress."""
from __future__ import annotations

import io
import re

from models.importer import BATCH, import_graduates
from jobs.progress import ProgressBar
from tests.test_job_queues import write_graduates


def test_progress_bar_counts_rows_and_reaches_the_end(db, tmp_path):
    path = tmp_path / "g.csv"
    rows = 2 * BATCH + 17
    write_graduates(path, rows)
    out = io.StringIO()
    report = import_graduates(db, str(path), progress=ProgressBar(out, plain_every=0))
    assert report.created == rows
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # after each full batch, and at the end
    assert re.fullmatch(r"\[#{24}\] 100\.0%  " + f"{rows:,}" + r" 行，[\d,]+ 行/秒", lines[-1]), lines[-1]
    shares = [float(re.search(r"([\d.]+)%", line).group(1)) for line in lines]
    assert shares == sorted(shares) and 0 < shares[0] < 100


def test_cli_import_prints_the_bar_and_the_summary(runner, tmp_path):
    path = tmp_path / "g.csv"
    write_graduates(path, 40)
    result = runner.invoke(args=["graduates", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "100.0%" in result.stderr and "40 行" in result.stderr
    quiet = runner.invoke(args=["graduates", "import", "--quiet", str(path)])
    assert quiet.exit_code == 0 and "行/秒" not in quiet.stderr


def test_background_import_returns_a_job_id_that_jobs_show_reports(runner, run_jobs, tmp_path):
    path = tmp_path / "g.csv"
    write_graduates(path, 30)
    queued = runner.invoke(args=["graduates", "import", "--background", str(path)])
    assert queued.exit_code == 0, queued.output
    job_id = re.search(r"任务 (import-graduates-[0-9a-f]+)", queued.output).group(1)
    assert f"jobs show {job_id}" in queued.output
    waiting = runner.invoke(args=["jobs", "show", job_id])
    assert "状态 queued" in waiting.output and "队列 bulk" in waiting.output
    run_jobs()
    done = runner.invoke(args=["jobs", "show", job_id])
    assert done.exit_code == 0, done.output
    assert "状态 finished" in done.output and "100.0%" in done.output and "'created': 30" in done.output


def write_units(path, n: int) -> None:
    lines = ["省份,学校,院系"] + [f"省{i % 3},大学{i % 40},学院{i}" for i in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_units_import_shows_the_bar_and_runs_in_the_background(runner, run_jobs, tmp_path):
    path = tmp_path / "units.csv"
    write_units(path, 2500)
    result = runner.invoke(args=["units", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "100.0%" in result.stderr and "2,500 行" in result.stderr

    again = tmp_path / "units2.csv"
    write_units(again, 30)
    queued = runner.invoke(args=["units", "import", "--background", str(again)])
    assert queued.exit_code == 0, queued.output
    job_id = re.search(r"任务 (import-units-[0-9a-f]+)", queued.output).group(1)
    run_jobs()
    done = runner.invoke(args=["jobs", "show", job_id])
    assert "状态 finished" in done.output and "100.0%" in done.output and "30 行" in done.output
