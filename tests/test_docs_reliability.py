"""docs/reliability.md names a test for each claim: every test it names must exist, so a renamed or
deleted test cannot leave a claim pointing at nothing."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"


def defined_test_names() -> set[str]:
    names = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                names.add(node.name)
    return names


def test_every_test_the_reliability_page_names_exists():
    text = DOC.read_text()
    named = set(re.findall(r"\btest_[a-z0-9_]+", text))
    files = {path.stem for path in (ROOT / "tests").glob("test_*.py")}
    functions = defined_test_names()
    unknown = sorted(name for name in named if name not in functions and name not in files
                     and not any(f.startswith(name) for f in files))  # `test_browser_*.py` style globs
    assert len(named) > 50, "the page names far fewer tests than it did"
    assert not unknown, f"docs/reliability.md names tests that do not exist: {unknown}"


def test_every_test_file_the_page_names_exists():
    for path in re.findall(r"tests/(test_[a-z0-9_]+\.py)", DOC.read_text()):
        assert (ROOT / "tests" / path).is_file(), path
