"""The runtime packages stand alone: nothing in verify/ or web/ imports the test and bench toolkit (the print-and-scan
model, the metrics, the forgeries), which is not installed with them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ("verify", "web")
TOOLKIT = ("tests", "bench")  # top-level packages that are not shipped: tests/ holds the toolkit, bench/ its users


def toolkit_imports(source: str) -> list[str]:
    """The modules of TOOLKIT that ``source`` imports anywhere (top level, inside functions, ``from x import y``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [name for name in names if name.split(".")[0] in TOOLKIT]
    return found


@pytest.mark.parametrize("source", [
    "import tests.simulate",
    "from tests.metrics import fidelity",
    "from tests import field",
    "import numpy as np, bench.speed as speed",
    "def f():\n    from tests.simulate import scan_bytes\n    return scan_bytes",
])
def test_the_scan_finds_every_form_of_import(source: str) -> None:
    assert toolkit_imports(source)


def test_the_scan_leaves_the_runtime_packages_own_imports_alone() -> None:
    assert toolkit_imports("import verify.spec\nfrom . import spec\nfrom .quality import COARSE\nimport testing") == []


@pytest.mark.parametrize("package", RUNTIME)
def test_the_runtime_packages_do_not_import_the_toolkit(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert len(files) > 5
    offending = {str(path.relative_to(ROOT)): names for path in files
                 if (names := toolkit_imports(path.read_text(encoding="utf-8")))}
    assert offending == {}


def test_the_app_factory_does_not_import_the_toolkit() -> None:
    assert toolkit_imports((ROOT / "app.py").read_text(encoding="utf-8")) == []
