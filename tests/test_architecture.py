"""The architecture holds: each part of `core` imports only what its package docstring allows.

The allowed parts are read from the `May import:` line of each package's `__init__.py`, so the
docstring a newcomer reads and the rule this test enforces are one text. Every import counts,
function-level ones included: a lazy import that reaches upwards is a circle all the same.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

import core

CORE = Path(core.__file__).resolve().parent
ROOT = CORE.parent
PACKAGES = sorted(path.parent.name for path in CORE.glob("*/__init__.py"))
TOP_LEVEL_MODULES = sorted(path.stem for path in CORE.glob("*.py") if path.stem != "__init__")


def allowed_parts(package: str) -> set[str]:
    """The parts `package`'s docstring says it may import, e.g. `{"config", "data"}`."""
    docstring = ast.get_docstring(ast.parse((CORE / package / "__init__.py").read_text())) or ""
    match = re.search(r"^May import: (.+)$", docstring, re.MULTILINE)
    assert match, f"core/{package}/__init__.py has no 'May import:' line in its docstring"
    if match.group(1).strip().startswith("nothing"):
        return set()
    return {name.strip().rstrip(".").removeprefix("core.") for name in match.group(1).split(",")}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """`(line, module)` for every import in the file, at any depth, relative ones resolved."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            found.append((node.lineno, module))
            # `from core import zoo` names a module, not a package attribute
            if module in ("core", *(f"core.{part}" for part in PACKAGES)):
                found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def core_part(module: str) -> str | None:
    """`core.runs.store` → `runs`; `core.cli` → `cli`; anything outside core → None."""
    parts = module.split(".")
    if parts[0] != "core" or len(parts) == 1:
        return None
    return parts[1]


def test_every_package_says_what_it_is_for_and_what_it_may_import():
    assert PACKAGES, "core has no packages"
    for package in PACKAGES:
        docstring = ast.get_docstring(ast.parse((CORE / package / "__init__.py").read_text()))
        assert docstring and len(docstring.splitlines()[0]) > 20, f"core/{package} has no summary line"
        unknown = allowed_parts(package) - set(PACKAGES)
        assert not unknown, f"core/{package} allows imports of parts that do not exist: {unknown}"


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_the_parts_its_docstring_allows(package):
    allowed = allowed_parts(package) | {package}
    violations = []
    for path in sorted((CORE / package).rglob("*.py")):
        for line, module in imported_modules(path):
            part = core_part(module)
            if part is not None and part not in allowed:
                violations.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not violations, f"core/{package} may import only {sorted(allowed)}:\n" + "\n".join(violations)


def test_the_allowed_imports_run_one_way():
    """No two parts may import each other, directly or through others: the allowed graph is a DAG."""
    graph = {package: allowed_parts(package) for package in PACKAGES}
    visiting, done = set(), set()

    def visit(package, trail):
        if package in done:
            return
        assert package not in visiting, f"the allowed imports form a circle: {' → '.join(trail + [package])}"
        visiting.add(package)
        for lower in graph[package]:
            visit(lower, trail + [package])
        visiting.discard(package)
        done.add(package)

    for package in PACKAGES:
        visit(package, [])


def test_no_package_imports_the_command_line():
    for path in sorted(CORE.rglob("*.py")):
        if path.parent == CORE:
            continue
        for line, module in imported_modules(path):
            assert core_part(module) not in TOP_LEVEL_MODULES, f"{path.relative_to(ROOT)}:{line} imports {module}"


def test_no_module_level_import_circle_between_core_modules():
    """Module by module, imports run one way too (a circle inside a package also counts)."""
    modules = {".".join(path.relative_to(ROOT).with_suffix("").parts): path for path in CORE.rglob("*.py")}
    graph = {
        name: {module for _, module in imported_modules(path) if module in modules and module != name}
        for name, path in modules.items()
    }
    visiting, done = set(), set()

    def visit(name, trail):
        if name in done:
            return
        assert name not in visiting, f"import circle: {' → '.join(trail + [name])}"
        visiting.add(name)
        for imported in sorted(graph[name]):
            visit(imported, trail + [name])
        visiting.discard(name)
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_core_never_imports_streamlit_or_the_pages():
    for path in sorted(CORE.rglob("*.py")):
        for line, module in imported_modules(path):
            top = module.split(".")[0]
            assert top not in ("streamlit", "pages", "dashboard"), f"{path.relative_to(ROOT)}:{line} imports {module}"


def test_pages_dashboard_bench_and_scripts_import_modules_that_exist():
    """No flat `core.<module>` path survives outside core: each import names a real module."""
    for folder in ("pages", "dashboard", "bench", "scripts", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line, module in imported_modules(path):
                if core_part(module) is not None:
                    assert importlib.util.find_spec(module) is not None, f"{path.relative_to(ROOT)}:{line} imports {module}, which does not exist"
