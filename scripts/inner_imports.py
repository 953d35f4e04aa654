"""List imports placed inside functions in the app's packages; fail on any without a reason.

An import inside a function hides a dependency from the layer check and usually
dodges a cycle. One is allowed only with a comment on its line that starts with
"# import here:" and says why (e.g. a slow library only one path needs).

    python scripts/inner_imports.py [--all] [ROOT]   (--all: list the reasoned ones too)
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGES = ("bot", "config", "faq", "handlers", "jobs", "menus", "models")
REASON = "# import here:"


def inner_imports(path: Path) -> list[tuple[int, bool]]:
    """(line, has a reason) of each import statement inside a function of `path`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[tuple[int, bool]] = []

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)) and in_function:
                found.append((child.lineno, REASON in lines[child.lineno - 1]))
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            walk(child, inside)

    walk(ast.parse("\n".join(lines), filename=str(path)), False)
    return found


def main(argv: list[str]) -> int:
    show_all = "--all" in argv
    args = [a for a in argv if a != "--all"]
    root = Path(args[0]) if args else Path(__file__).resolve().parent.parent
    total, unexplained = 0, 0
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            for line, reasoned in inner_imports(path):
                total += 1
                unexplained += not reasoned
                if show_all or not reasoned:
                    print(f"{path.relative_to(root)}:{line}: {'reasoned' if reasoned else 'NO REASON'}")
    print(f"imports inside functions: {total} ({unexplained} without a reason)")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
