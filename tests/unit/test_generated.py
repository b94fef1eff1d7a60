"""The checked-in protobuf code must be what scripts/gen_protos.py makes from proto/ now."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

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


# ---- the API types: proto/ from the API's schema (scripts/gen_types.py) --------------------------------


def _gen_types() -> Any:
    if "gen_types" not in sys.modules:
        spec = importlib.util.spec_from_file_location("gen_types", ROOT / "scripts" / "gen_types.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["gen_types"] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules["gen_types"]


def test_the_types_are_what_the_schema_makes() -> None:
    gen = _gen_types()
    fresh = gen.generate()
    stale = [name for name, text in fresh.items() if (gen.PROTO_DIR / name).read_text() != text]
    assert not stale, f"regenerate with `python scripts/gen_types.py && python scripts/gen_protos.py`: {stale}"


def test_a_field_keeps_its_number_a_new_one_takes_the_next_and_a_dropped_one_stays_reserved(tmp_path: Path) -> None:
    gen = _gen_types()
    (tmp_path / "coordination.proto").write_text(
        'message LeaseSpec {\n  optional string holder_identity = 7;\n  string gone_field = 9;\n}\n'
    )
    schema = json.loads(gen.SCHEMA.read_text())
    text = gen.Generator(schema, gen.read_previous(tmp_path)).files()["coordination.proto"]
    spec = text[text.index("message LeaseSpec {"):]
    spec = spec[:spec.index("}")]
    assert "optional string holder_identity = 7;" in spec
    assert "reserved 9;  // goneField" in spec
    numbers = sorted(int(line.rsplit("=", 1)[1].split(";")[0].split()[0]) for line in spec.splitlines()
                     if "=" in line and "reserved" not in line)
    assert numbers[0] == 7 and numbers[1:] == list(range(10, 10 + len(numbers) - 1)), numbers
    # And the memory is read back: a second generation from the first's output changes nothing.
    (tmp_path / "coordination.proto").write_text(text)
    again = gen.Generator(schema, gen.read_previous(tmp_path)).files()["coordination.proto"]
    assert again == text


def test_presence_follows_whether_upstream_always_writes_the_field() -> None:
    from kubemu.pb import core_pb2

    # Fields the generator added (the hand-written ones before it keep the presence they had).
    assert not core_pb2.ConfigMapKeySelector.DESCRIPTOR.fields_by_name["key"].has_presence  # `default: ""`
    assert not core_pb2.SleepAction.DESCRIPTOR.fields_by_name["seconds"].has_presence  # `default: 0`
    assert core_pb2.Container.DESCRIPTOR.fields_by_name["stdin_once"].has_presence  # omitempty: set or not
    assert core_pb2.PodSpec.DESCRIPTOR.fields_by_name["host_users"].has_presence  # a pointer upstream


@pytest.mark.parametrize(("json_name", "snake"), [
    ("hostPID", "host_pid"), ("podIPs", "pod_ips"), ("Port", "port"), ("httpGet", "http_get"),
    ("systemUUID", "system_uuid"), ("podCIDRs", "pod_cidrs"), ("fieldsV1", "fields_v1"), ("targetWWNs", "target_wwns"),
    ("readOnlyRootFilesystem", "read_only_root_filesystem"),
])
def test_field_names_are_upstreams_in_snake_case(json_name: str, snake: str) -> None:
    assert _gen_types().snake(json_name) == snake


def test_every_served_kind_has_every_field_of_its_upstream_type() -> None:
    from kubemu.api import kinds, openapi

    for info in kinds.all_kinds():
        schema = openapi.definitions()[openapi.definition_of(info)]
        json_names = {fd.json_name for fd in info.message.DESCRIPTOR.fields}
        missing = set(schema["properties"]) - json_names - {"apiVersion", "kind"}
        assert not missing, f"{info.kind} lacks {sorted(missing)}"
