"""The checked-in protobuf code must be what scripts/gen_protos.py makes from proto/ now."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def _generate_into(out: Path) -> None:
    spec = importlib.util.spec_from_file_location("gen_protos", ROOT / "scripts" / "gen_protos.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(out)


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    _generate_into(tmp_path)
    fresh = {p.relative_to(tmp_path): p.read_text() for p in tmp_path.rglob("*.py*")}
    assert fresh, "protoc produced nothing"
    stale = [str(rel) for rel, text in fresh.items() if (ROOT / rel).read_text() != text]
    assert not stale, f"regenerate with `python scripts/gen_protos.py`: stale {stale}"


def test_a_doctored_copy_is_reported_stale(tmp_path: Path) -> None:
    # The checker itself must be able to fail: a changed file no longer matches a fresh generation.
    _generate_into(tmp_path)
    target = tmp_path / "kubemu" / "pb" / "meta_pb2.pyi"
    target.write_text(target.read_text() + "\n# doctored\n")
    assert target.read_text() != (ROOT / "kubemu" / "pb" / "meta_pb2.pyi").read_text()
