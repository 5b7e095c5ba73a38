"""Dependencies point one way: cli → api/worker → pipeline → alerting/reports/performance → sources/storage →
stats → kernels. A module may import its own layer or any layer below, never above."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "driftwatch"

LAYERS = {
    "kernels": 0,
    "errors": 0,
    "durations": 0,
    "timestamps": 0,
    "paths": 0,
    "workdirs": 0,
    "stats": 1,
    "config": 2,
    "sources": 3,
    "storage": 3,
    "performance": 4,
    "alerting": 4,
    "reports": 4,
    "demo": 4,
    "comparison": 5,
    "streaming": 5,
    "distributed": 5,
    "validation": 5,
    "pipeline": 5,
    "api": 6,
    "worker": 6,
    "cli": 7,
    "service": 7,
    "__init__": 8,
    "__main__": 8,
}


def layer_of(module: str) -> int:
    part = module.split(".")[1] if module.count(".") >= 1 else "__init__"
    return LAYERS[part]


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("driftwatch"):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("driftwatch")]
    return found


def test_every_top_level_module_has_a_layer() -> None:
    names = {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists())
    }
    assert names <= set(LAYERS), sorted(names - set(LAYERS))


def test_imports_point_down() -> None:
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(rel.parts)
        if module == "driftwatch.__init__":
            continue
        own = layer_of(module)
        for target in imports(path):
            if target == "driftwatch":
                wrong.append(f"{module} imports the package root")
            elif layer_of(target) > own:
                wrong.append(f"{module} (layer {own}) imports {target} (layer {layer_of(target)})")
    assert not wrong, "\n".join(wrong)


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.parts[-1] == "__init__" else rel.parts
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def resolved_imports(path: Path, known: set[str]) -> set[str]:
    """The driftwatch modules `path` imports, anywhere in it (a function-level import is a dependency too).

    `from driftwatch.api import queries` names the module driftwatch.api.queries when that is a module, the
    package driftwatch.api otherwise (a name defined in its __init__)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("driftwatch"):
            subs = {f"{node.module}.{alias.name}" for alias in node.names} & known
            found |= subs
            if len(subs) < len(node.names):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("driftwatch")}
    return found & known


def import_graph() -> dict[str, set[str]]:
    """driftwatch module → the driftwatch modules it imports (a package's own __init__ excluded as a target
    of its submodules: importing driftwatch.api.x runs driftwatch/api/__init__.py, but that is not a cycle)."""
    known = modules()
    return {name: resolved_imports(path, set(known)) - {name} for name, path in known.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, …, a], or None. Iterative DFS with colours: grey = on the current path."""
    colour: dict[str, int] = dict.fromkeys(graph, 0)  # 0 white, 1 grey, 2 black
    for root in sorted(graph):
        if colour[root]:
            continue
        path = [root]
        stack = [iter(sorted(graph[root]))]
        colour[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                colour[path.pop()] = 2
                stack.pop()
            elif colour.get(nxt, 2) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif colour.get(nxt) == 0:
                colour[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_find_cycle_reports_the_cycle() -> None:
    """The cycle finder itself: it must name a cycle through a longer path and stay quiet on a DAG."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"d", "a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycles() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_api_does_not_import_worker() -> None:
    """The API runs cycles through pipeline.runner and sees the schedule only as api.state.Scheduler;
    the composition of both is driftwatch.service."""
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if module.startswith("driftwatch.api")
        for target in targets
        if target == "driftwatch.worker" or target.startswith("driftwatch.worker.")
    )
    assert not wrong, "\n".join(wrong)


# SQL against driftwatch's own database lives in storage/, SQL that reads external data in sources/; every other
# module asks them by name. A string that starts like a statement, or a DB-API/DuckDB call, anywhere else fails.
SQL_OWNERS = {"storage", "sources"}
# Upper case, a statement keyword is enough (prose does not shout); in any case, the text must also look like a
# statement (`select a from t`, `set threads = 4`, `load httpfs`), so "Load the rule files" and a YAML key
# `select` are not SQL.
SQL_START = re.compile(
    r"^\s*(SELECT|INSERT (OR (REPLACE|IGNORE) )?INTO|UPDATE \w+ SET|DELETE FROM"
    r"|CREATE (OR REPLACE )?(TEMP |TEMPORARY )?(TABLE|VIEW|INDEX|SEQUENCE|MACRO)"
    r"|WITH (RECURSIVE )?\w+ AS|ALTER TABLE|DROP (TABLE|VIEW|INDEX|SEQUENCE)|COPY |PRAGMA |CHECKPOINT|DESCRIBE "
    r"|ATTACH |DETACH |INSTALL |LOAD |SET |RESET |EXPLAIN |SUMMARIZE |VACUUM|BEGIN TRANSACTION|COMMIT\b)"
)
SQL_START_ANY_CASE = re.compile(
    r"""^\s*(
      select\s+(\S.*?\bfrom\s+\S|[\w.*'"?$()+-]+(\s*,\s*[\w.*'"?$()+-]+)*\s*;?\s*$)
    | insert\s+(or\s+(replace|ignore)\s+)?into\s+\S
    | update\s+\S+\s+set\s+\w+\s*=
    | delete\s+from\s+\S
    | create\s+(or\s+replace\s+)?(temp(orary)?\s+)?(table|view|index|sequence|macro)\s
    | with\s+(recursive\s+)?\w+\s+as\s*\(
    | (alter|drop)\s+(table|view|index|sequence)\s
    | copy\s+(\(|\S+\s+(to|from)\s)
    | (pragma|describe|detach|install|load|reset|checkpoint|vacuum|commit|rollback)(\s+\w+)?\s*;?\s*$
    | pragma\s+\w+\s*[(=]
    | attach\s+('|"|database\s)
    | set\s+((global|session|local)\s+)?\w+(\.\w+)?\s*(=|to\s)
    | (explain(\s+analyze)?|summarize|describe)\s+(select|with|insert|update|delete|from)\b
    | begin\s+transaction
    )""",
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)


def is_sql_text(text: str) -> bool:
    return bool(SQL_START.match(text) or SQL_START_ANY_CASE.match(text))


# Methods of a DB-API / DuckDB connection, cursor or relation. Polars, pyarrow and numpy have module functions
# of the same names (`pl.read_parquet`, `pq.read_table`): a call on one of those modules is not a query.
SQL_CALLS = {
    "execute",
    "executemany",
    "sql",
    "query",
    "fetchall",
    "fetchone",
    "fetchmany",
    "fetchnumpy",
    "fetchdf",
    "fetch_df",
    "fetch_arrow_table",
    "fetch_record_batch",
    "read_parquet",
    "read_csv",
    "read_json",
    "table",
    "arrow",
}
NOT_A_DATABASE = {"pl", "pq", "pa", "np", "polars", "pyarrow", "numpy", "pd", "pandas"}


def is_sql_call(node: ast.AST) -> bool:
    """A method call `receiver.name(...)` with `name` in SQL_CALLS, unless `receiver` is a data library module."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    receiver = node.func.value
    if isinstance(receiver, ast.Name) and receiver.id in NOT_A_DATABASE:
        return False
    if isinstance(receiver, ast.Attribute) and isinstance(receiver.value, ast.Name):
        if receiver.value.id in NOT_A_DATABASE:  # pa.csv.read_csv, pyarrow.json.read_json
            return False
    return node.func.attr in SQL_CALLS


def sql_outside_owners() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in SQL_OWNERS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and is_sql_text(node.value):
                found.append(f"{rel}:{node.lineno}: SQL text {node.value.strip()[:40]!r}")
            elif is_sql_call(node):
                assert isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                found.append(f"{rel}:{node.lineno}: .{node.func.attr}(…)")
    return found


def test_only_storage_and_sources_build_sql() -> None:
    found = sql_outside_owners()
    assert not found, (
        "SQL outside storage/ and sources/ (move it behind a named function there):\n" + "\n".join(found)
    )


def test_the_sql_check_sees_sql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check itself: a pipeline module with a query or a cursor call is reported; an HTTP verb is not."""
    package = tmp_path / "driftwatch"
    (package / "pipeline").mkdir(parents=True)
    (package / "storage").mkdir()
    (package / "pipeline" / "bad.py").write_text(
        'Q = "SELECT count(*) FROM t"\n\ndef f(cur):\n    return cur.execute(Q)\n\nVERB = "DELETE"\n'
    )
    (package / "storage" / "fine.py").write_text('Q = "SELECT 1"\n')
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    found = sql_outside_owners()
    assert [f.split(":")[0] for f in found] == ["pipeline/bad.py", "pipeline/bad.py"]


SQL_TEXTS = [
    "select count(*) from t",
    "  Select a, b From t WHERE x = ?",
    "select 1",
    "insert into t values (1)",
    "INSERT OR REPLACE INTO t VALUES (1)",
    "insert or replace into t values (1)",
    "update t set a = 1",
    "delete from t",
    "create or replace temp table t (a INT)",
    "with x as (select 1) select * from x",
    "SET threads = 4",
    "set memory_limit = '1GB'",
    "SET GLOBAL threads TO 2",
    "EXPLAIN SELECT 1",
    "explain analyze select 1",
    "PRAGMA table_info('t')",
    "pragma version",
    "load httpfs",
    "install httpfs;",
    "attach 'other.duckdb' AS o",
    "copy t to 'out.parquet'",
    "describe t",
]
NOT_SQL_TEXTS = [
    "DELETE",
    "select",
    "selects `feature`, but",
    "set both or neither",
    "Load (or compile) every numba kernel once",
    "Describe the thing here",
    "update the dashboard",
    "with labels",
    "created at",
]


@pytest.mark.parametrize("text", SQL_TEXTS)
def test_the_sql_check_sees_statements_in_any_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    package = tmp_path / "driftwatch"
    (package / "api").mkdir(parents=True)
    (package / "api" / "bad.py").write_text(f"Q = {text!r}\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    assert [f.split(":")[0] for f in sql_outside_owners()] == ["api/bad.py"]


@pytest.mark.parametrize("text", NOT_SQL_TEXTS)
def test_prose_and_words_are_not_sql(text: str) -> None:
    assert not is_sql_text(text)


DB_CALLS = [
    "con.query('x')",
    "con.read_parquet(path)",
    "con.read_csv(path)",
    "con.read_json(path)",
    "rel.fetchdf()",
    "rel.fetch_df()",
    "rel.fetch_record_batch()",
    "con.table('t')",
    "rel.arrow()",
    "self.db.cursor().fetchmany(3)",
]
NOT_DB_CALLS = [
    "pl.read_parquet(path)",
    "polars.read_csv(path)",
    "pl.read_json(path)",
    "pq.read_table(path)",
    "pa.table({'a': [1]})",
    "np.table",
    "pa.csv.read_csv(path)",
    "frame.filter(x)",
]


def test_the_sql_check_sees_database_calls_but_not_dataframe_module_functions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "driftwatch"
    (package / "reports").mkdir(parents=True)
    (package / "reports" / "calls.py").write_text(
        "def f(con, rel, self, path, frame, x):\n"
        + "".join(f"    {call}\n" for call in DB_CALLS + NOT_DB_CALLS)
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    lines = sorted(int(f.split(":")[1]) for f in sql_outside_owners())
    assert lines == list(range(2, 2 + len(DB_CALLS)))
