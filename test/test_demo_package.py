"""The demo's package: each module imports alone, and no module imports back from one that imports it.

Before the package, ``scripts/demo.py`` imported the scenarios and the scenarios imported ``scripts/demo.py``
back: a circle that held only because the scenarios were imported inside a function.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "latent_nodes" / "demo"
MODULES = sorted(f"latent_nodes.demo.{p.stem}" for p in PACKAGE.glob("*.py") if p.stem != "__init__")
ENTRY = "latent_nodes.scripts.demo"


def demo_imports(module: str) -> set[str]:
    """The demo's modules that ``module`` imports anywhere in its file (at the top or inside a function)."""
    path = ROOT / (module.replace(".", "/") + ".py")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n in MODULES or n == ENTRY}
    return found - {module}


def test_the_package_has_the_driver_the_graph_and_a_module_per_scenario():
    assert {"latent_nodes.demo.driver", "latent_nodes.demo.graph", "latent_nodes.demo.glimpse",
            "latent_nodes.demo.moved", "latent_nodes.demo.recognize"} <= set(MODULES)


def test_no_module_of_the_demo_imports_back_from_one_that_imports_it():
    graph = {m: demo_imports(m) for m in [*MODULES, ENTRY]}
    assert not any(ENTRY in targets for m, targets in graph.items() if m != ENTRY), graph

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph[start] - seen:
            if nxt == goal or reaches(nxt, goal, seen | {nxt}):
                return True
        return False

    circles = [m for m in graph if reaches(m, m, set())]
    assert not circles, {m: graph[m] for m in circles}


@pytest.mark.parametrize("module", [*MODULES, ENTRY])
def test_each_module_imports_alone(module):
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
