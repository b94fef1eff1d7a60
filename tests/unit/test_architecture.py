"""The import contracts in .importlinter hold, and the check really catches a process reaching around the
apiserver into Redis."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("kubemu", "apiserver", "scheduler", "controllers", "kubelet")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "lint-imports"
    return subprocess.run([str(exe)], cwd=tree, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(tree)})


def copy_tree(dst: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, dst / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", dst / ".importlinter")
    return dst


def test_contracts_hold(tmp_path: Path) -> None:
    result = lint_imports(copy_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_kubelet_importing_redis_breaks_the_contract(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    (tree / "kubelet" / "sneaky.py").write_text("import redis\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "Only the apiserver talks to Redis BROKEN" in result.stdout
