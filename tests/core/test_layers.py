"""The package's layering, read from the source: who may import whom.

Every import statement of every module is read (also those inside function
bodies, which ``python -X importtime`` would not see until they run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import kizuna

ROOT = Path(kizuna.__file__).parent


def _imports() -> list[tuple[str, str, list[str]]]:
    """(importing module, imported module, imported names) of every ``kizuna`` import."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        module = ".".join(("kizuna", *path.relative_to(ROOT).with_suffix("").parts))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [a.name for a in node.names]
                found.append((module, node.module, names))
            elif isinstance(node, ast.Import):
                found.extend((module, a.name, []) for a in node.names)
    return [f for f in found if f[1].startswith("kizuna")]


def test_the_api_never_imports_the_web_ui() -> None:
    # The composition root (kizuna.server) mounts the UI on the API; the API knows nothing of it.
    assert [(m, i) for m, i, _ in _imports() if m.startswith("kizuna.api") and "web" in i] == []


def test_the_web_ui_uses_only_the_api_session_signer() -> None:
    used = {
        i for m, i, _ in _imports() if m.startswith("kizuna.web") and i.startswith("kizuna.api")
    }
    assert used == {"kizuna.api.sessions"}


def test_only_the_composition_root_knows_both_apps() -> None:
    both = {
        m
        for m, i, _ in _imports()
        if i in ("kizuna.api.app", "kizuna.api") and not m.startswith("kizuna.api")
    }
    assert both == {"kizuna.server"}


def test_the_domain_core_imports_no_edge() -> None:
    edges = ("kizuna.web", "kizuna.api", "kizuna.cli", "kizuna.server")
    core = (
        "kizuna.portfolio",
        "kizuna.labels",
        "kizuna.daily",
        "kizuna.lifecycle",
        "kizuna.health",
    )
    assert [(m, i) for m, i, _ in _imports() if m.startswith(core) and i.startswith(edges)] == []


def test_no_module_imports_another_modules_private_names() -> None:
    private = [
        (m, i, n)
        for m, i, names in _imports()
        for n in names
        if n.startswith("_")
        and not n.startswith("__")
        # A package's private helper module, used by the package's own modules.
        and not (n == "_vocab" and m.startswith(i + "."))
    ]
    assert private == []
