"""The import contracts in .importlinter hold, and the check really catches a process reaching around the
apiserver into Redis, the kubelet's prober reaching back into the pod worker, and a kubelet module with no layer."""

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


def test_a_prober_importing_the_pod_worker_breaks_the_kubelet_layers(tmp_path: Path) -> None:
    """Even for type hints only: the prober knows the pod through a ProbeTarget, never the worker."""
    tree = copy_tree(tmp_path)
    worker = tree / "kubelet" / "prober" / "worker.py"
    worker.write_text(worker.read_text() + "\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
                      "    from kubelet.pod_worker import PodWorker\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "The kubelet's modules are layered, the prober below the pod worker BROKEN" in result.stdout
    assert "kubelet.prober.worker -> kubelet.pod_worker" in result.stdout


def test_a_kubelet_module_with_no_layer_breaks_the_kubelet_layers(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    (tree / "kubelet" / "eviction.py").write_text('"""Somewhere to be placed in .importlinter."""\n')
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "The kubelet's modules are layered, the prober below the pod worker BROKEN" in result.stdout
