"""The UI keeps no data in module globals: its caches live on the app (``app.state.figures``).

Each module of :mod:`kizuna.web` is read as source (not imported) and refused if
it has, at module level:

* a function decorated with ``functools.cache`` / ``lru_cache`` (a process-wide
  cache outside any app);
* an instance of a cache or a lock (``BookCache(...)``, ``threading.Lock()``, ...);
* a dict, list or set that any function of the package changes (item assignment,
  ``update``, ``append``, ``setdefault``, ``pop``, ``clear``, ...) or rebinds
  (``global``): module-level tables that are only read are constants, not caches.
"""

from __future__ import annotations

import ast
from pathlib import Path

import kizuna.web

WEB = Path(kizuna.web.__file__).parent
CACHE_DECORATORS = {"cache", "lru_cache"}
STATEFUL_CALLS = {"BookCache", "Figures", "Lock", "RLock", "Event", "Condition", "Semaphore"}
MUTATORS = {
    "update",
    "setdefault",
    "pop",
    "popitem",
    "clear",
    "append",
    "extend",
    "insert",
    "remove",
    "add",
    "discard",
    "__setitem__",
}
CONTAINERS = (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)


def _modules() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(WEB)): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(WEB.rglob("*.py"))
    }


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _containers(tree: ast.Module) -> set[str]:
    """Names bound at module level to a mutable container."""
    found = set()
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            value = node.value
            mutable = isinstance(value, CONTAINERS) or (
                isinstance(value, ast.Call) and _name(value.func) in {"dict", "list", "set"}
            )
            if mutable:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                found.update(t.id for t in targets if isinstance(t, ast.Name))
    return found


def _mutated(trees: dict[str, ast.Module]) -> set[str]:
    """Names changed in place or rebound with ``global`` anywhere in the package."""
    names: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Global):
                names.update(node.names)
            elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
                targets = (
                    node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
                )
                for target in targets:
                    if isinstance(target, ast.Subscript) and (name := _name(target.value)):
                        names.add(name)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in MUTATORS
                and (name := _name(node.func.value))
            ):
                names.add(name)
    return names


def module_caches(trees: dict[str, ast.Module]) -> list[str]:
    """Every module-level cache or mutable global of the package, as ``file:line name``."""
    mutated = _mutated(trees)
    problems = []
    for path, tree in trees.items():
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for deco in node.decorator_list:
                    target = deco.func if isinstance(deco, ast.Call) else deco
                    if _name(target) in CACHE_DECORATORS:
                        problems.append(f"{path}:{node.lineno} @{_name(target)} {node.name}")
            elif (
                isinstance(node, ast.Assign | ast.AnnAssign)
                and isinstance(node.value, ast.Call)
                and _name(node.value.func) in STATEFUL_CALLS
            ):
                problems.append(f"{path}:{node.lineno} {ast.unparse(node)[:80]}")
        for name in sorted(_containers(tree) & mutated):
            problems.append(f"{path}: module-level {name} is changed at run time")
    return problems


def test_the_web_package_keeps_no_cache_in_module_globals() -> None:
    assert module_caches(_modules()) == []


def test_the_check_finds_each_kind_of_module_cache() -> None:
    """The check itself: each kind of module-level cache is reported."""
    source = """
import functools, threading
from kizuna.web.cache import BookCache

TABLE = {"a": 1}          # read only: a constant
_seen = {}
_order = []
FIGURES = BookCache(60)
_lock = threading.Lock()

@functools.lru_cache(maxsize=8)
def labels(x): return x

def remember(key, value):
    _seen[key] = value
    _order.append(key)
    return TABLE[key]
"""
    found = module_caches({"example.py": ast.parse(source)})
    assert len(found) == 5, found
    assert any("@lru_cache labels" in f for f in found)
    assert any("FIGURES = BookCache" in f for f in found)
    assert any("_lock = threading.Lock()" in f for f in found)
    assert any("_seen is changed" in f for f in found)
    assert any("_order is changed" in f for f in found)
    assert not any("TABLE" in f for f in found)
