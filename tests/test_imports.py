"""No import cycle in fer_utils (issue 19): the graph of the imports that run when a module is imported
(module level, class bodies; not the imports inside functions, which run later) has no cycle, and every
module imports alone in a fresh Python, in any order."""
import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import fer_utils

PACKAGE = Path(fer_utils.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))


def import_time_imports(source: str, modules: set[str]) -> set[str]:
    """The fer_utils modules that `source` imports when it is imported (not inside functions)."""
    found: set[str] = set()

    def visit(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.update([node.module.split(".")[0]] if node.module else [a.name for a in node.names])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fer_utils."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("fer_utils."))
        for child in ast.iter_child_nodes(node):
            visit(child)
    visit(ast.parse(source))
    return found & modules


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of a directed graph as [a, b, ..., a], or None."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" after

    def walk(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := walk(nxt, path + [nxt])):
                return cycle
        state[node] = "done"
        return None
    for start in sorted(graph):
        if start not in state and (cycle := walk(start, [start])):
            return cycle
    return None


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    source = "from .b import x\nfrom . import c\nimport fer_utils.d\ndef f():\n    from .e import y\n"
    assert import_time_imports(source, {"b", "c", "d", "e"}) == {"b", "c", "d"}


def test_no_import_cycle_in_fer_utils():
    graph = {m: import_time_imports((PACKAGE / f"{m}.py").read_text(encoding="utf-8"), set(MODULES)) - {m}
             for m in MODULES}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def import_alone(module: str) -> tuple[str, int, str]:
    r = subprocess.run([sys.executable, "-c", f"import fer_utils.{module}"], capture_output=True, text=True)
    return module, r.returncode, r.stderr


def test_each_module_imports_alone_in_a_fresh_process():
    """A cycle shows as "cannot import name ... (most likely due to a circular import)" when one of its
    modules is imported first; a missing optional package (e.g. TensorFlow where it has no wheel) is allowed."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(import_alone, MODULES))
    for module, returncode, stderr in results:
        last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        missing_package = last.startswith("ModuleNotFoundError: No module named") and "fer_utils" not in last
        assert returncode == 0 or missing_package, f"fer_utils.{module}: {last}"
