"""The layout's rules, read from the source: imports run one way without cycles, modules stay
small, and SQL lives in `.sql` files (docs/architecture.md explains the layout)."""
from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("service", "schema")
MAX_LINES = 400
# What the GraphQL layer may take from the runtime: settings, the principal, the SQL loader.
SCHEMA_MAY_IMPORT = {"service", "service.config", "service.auth", "service.sql_files"}
SQL_LOADER = "service.sql_files"
OBJECT = r"(table|view|function|index|role|database|schema|extension|trigger|policy|type|sequence|owned)"
SQL = re.compile(
    r"^\s*(select\s+[\w*(]|insert\s+into\s|update\s+[\w.\"]+(\s+\w+)?\s+set\s|delete\s+from\s"
    r"|with\s+(recursive\s+)?\w+\s+as\s*\(|create\s+(or\s+replace\s+|unique\s+|temp(orary)?\s+)?" + OBJECT +
    r"|alter\s+" + OBJECT + r"|drop\s+" + OBJECT + r"|copy\s+[\w.]+\s|listen\s+\w+\s*$|notify\s|pg_notify"
    r"|set\s+(local\s+|session\s+)?[\w.]+\s*(=|to)\s|reset\s+(all|[\w.]+)\s*$|truncate\s|lock\s+table"
    r"|grant\s+\w+.*\s(on|to)\s|revoke\s+\w+.*\s(on|from)\s|do\s+\$|explain\s*\(|analyze\s+[\w.]+\s*;?\s*$)",
    re.IGNORECASE)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that runs (function-level ones too), except under `if TYPE_CHECKING:`."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and is_type_checking(child.test):
                for orelse in child.orelse:
                    visit(orelse)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(child)
            visit(child)

    visit(tree)
    return found


def imported_modules(name: str) -> set[str]:
    """The project modules `name` imports at run time."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in runtime_imports(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(a.name for a in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join(anchor + ([base] if base else []))
        submodules = {f"{base}.{a.name}" for a in node.names} & MODULES.keys()
        targets.update(submodules)  # `from pkg import submodule`: like `import pkg.submodule`, not pkg's names
        if len(submodules) < len(node.names):
            targets.add(base)
    return {t for t in targets if t in MODULES and t != name}


GRAPH = {name: imported_modules(name) for name in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return found


def test_no_runtime_import_cycle():
    assert cycles(GRAPH) == []


def test_cycle_finder_finds_a_planted_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_schema_imports_only_settings_principal_and_the_sql_loader_from_service():
    crossing = {f"{name} -> {target}" for name, targets in GRAPH.items() if name.startswith("schema")
                for target in targets if target.startswith("service") and target not in SCHEMA_MAY_IMPORT}
    assert sorted(crossing) == []


def test_shared_service_modules_are_leaves():
    """What schema/ may import from service/ imports nothing else of either package."""
    beyond = {m: sorted(GRAPH[m] - SCHEMA_MAY_IMPORT) for m in SCHEMA_MAY_IMPORT if m in GRAPH}
    assert {m: targets for m, targets in beyond.items() if targets} == {}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_small(name):
    lines = MODULES[name].read_text().count("\n")
    assert lines <= MAX_LINES, f"{MODULES[name].relative_to(ROOT)} has {lines} lines (at most {MAX_LINES})"


def sql_strings(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
            found.append((node.lineno, node.value.strip().splitlines()[0][:60]))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            if SQL.match(text):
                found.append((node.lineno, text.strip().splitlines()[0][:60]))
    return found


def test_no_sql_in_python_strings():
    found = {f"{MODULES[name].relative_to(ROOT)}:{line}: {text}" for name in MODULES if name != SQL_LOADER
             for line, text in sql_strings(MODULES[name])}
    assert sorted(found) == []


def test_sql_finder_sees_statements_and_not_prose():
    assert SQL.match("select 1") and SQL.match("\n  INSERT INTO steward.x values (1)")
    assert SQL.match("set local app.org_id = '1'") and SQL.match("listen steward_events")
    assert SQL.match("create or replace view metrics.x as select 1") and SQL.match("drop schema metrics cascade")
    for prose in ("Create a token (as the database owner)", "drop \"Did you mean\" hints", "update the owner",
                  "the deployment, as updated", "create an organization"):
        assert not SQL.match(prose), prose


def test_every_package_ships_in_the_wheel():
    """pyproject lists its packages by hand (service.sql is mapped from sql/): a new one must be listed."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(init.parent.relative_to(ROOT).parts)
             for top in ("service", "schema") for init in (ROOT / top).rglob("__init__.py")}
    assert found - listed == set()
