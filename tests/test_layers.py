"""The layer contract (.importlinter) and scripts/inner_imports.py: both pass here, and both fail
on a copy of the code with a violation planted (so the check in `make test` can fail)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "config", "faq", "handlers", "jobs", "menus", "models")
LINT = Path(sys.executable).parent / "lint-imports"


def _copy(tmp_path: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "templates",
                                                                                     "static"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300)


def _inner(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "inner_imports.py"), str(root)],
                          capture_output=True, text=True, timeout=120)


def test_the_code_keeps_the_layers_and_explains_its_inner_imports():
    lint = _lint(ROOT)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    inner = _inner(ROOT)
    assert inner.returncode == 0, inner.stdout


def test_a_model_importing_a_job_breaks_the_contract(tmp_path):
    root = _copy(tmp_path)
    units = root / "models" / "units.py"
    units.write_text(units.read_text(encoding="utf-8") + "\nimport jobs.tags  # planted\n", encoding="utf-8")
    lint = _lint(root)
    assert lint.returncode != 0 and "models is not allowed to import jobs" in lint.stdout, lint.stdout


def test_a_cycle_between_siblings_and_the_factory_imported_below_break_the_contract(tmp_path):
    root = _copy(tmp_path)
    clock = root / "models" / "clock.py"
    clock.write_text(clock.read_text(encoding="utf-8") + "\nfrom . import dispatch  # planted\n", encoding="utf-8")
    follow = root / "handlers" / "follow_up.py"
    follow.write_text(follow.read_text(encoding="utf-8") + "\nfrom bot.app import create_app  # planted\n",
                      encoding="utf-8")
    lint = _lint(root)
    assert lint.returncode != 0, lint.stdout
    assert "No cycles are allowed in models" in lint.stdout and "handlers.follow_up -> bot.app" in lint.stdout, \
        lint.stdout


def test_an_import_inside_a_function_needs_a_reason(tmp_path):
    root = _copy(tmp_path)
    text = root / "models" / "text.py"
    source = text.read_text(encoding="utf-8")
    text.write_text(source + "\n\ndef planted():\n    import json\n\n    return json\n", encoding="utf-8")
    inner = _inner(root)
    assert inner.returncode == 1 and "models/text.py" in inner.stdout and "NO REASON" in inner.stdout, inner.stdout
    text.write_text(source + "\n\ndef planted():\n    import json  # import here: a reason\n\n    return json\n",
                    encoding="utf-8")
    assert _inner(root).returncode == 0
