"""Kubeconfig files (kubemu/kubeconfig.py): kubectl's loading order and merge, a context's access with kubemu's
gRPC address, and the context `kubemu up` adds and `kubemu down` takes away, leaving everything else as it was."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubemu import kubeconfig

pytestmark = pytest.mark.unit

CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def other(name: str = "prod", current: str | None = "prod") -> dict[str, Any]:
    config = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": f"https://{name}.example:6443",
                                                "certificate-authority": "ca.crt"}}],
        "users": [{"name": name, "user": {"token": f"{name}-token"}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": "team"}}],
        "preferences": {},
    }
    if current is not None:
        config["current-context"] = current
    return config


def write(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def own(grpc: str = "127.0.0.1:7000", token: str = "t0k") -> dict[str, Any]:
    return kubeconfig.cluster_config("kubemu", "https://127.0.0.1:7001", grpc, CA, token)


def test_loading_paths_follow_kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    assert kubeconfig.loading_paths() == [tmp_path / ".kube" / "config"]
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path}/a::{tmp_path}/b:{tmp_path}/a")
    assert kubeconfig.loading_paths() == [tmp_path / "a", tmp_path / "b"]
    assert kubeconfig.write_path() == tmp_path / "a"
    assert kubeconfig.loading_paths(tmp_path / "x") == [tmp_path / "x"]
    assert kubeconfig.write_path(str(tmp_path / "x")) == tmp_path / "x"


def test_the_first_file_to_name_an_entry_or_the_current_context_wins(tmp_path: Path) -> None:
    a = other("prod", current=None)
    b = other("prod", current="dev")
    b["clusters"][0]["cluster"]["server"] = "https://shadowed"
    b["clusters"].append({"name": "dev", "cluster": {"server": "https://dev"}})
    b["contexts"].append({"name": "dev", "context": {"cluster": "dev", "user": "prod"}})
    merged = kubeconfig.load([write(tmp_path / "a", a), tmp_path / "missing", write(tmp_path / "b", b)])
    assert merged["current-context"] == "dev"
    assert [c["name"] for c in merged["clusters"]] == ["prod", "dev"]
    assert merged["clusters"][0]["cluster"]["server"] == "https://prod.example:6443"
    # A relative file reference is resolved against the folder of the file that holds it.
    assert merged["clusters"][0]["cluster"]["certificate-authority"] == str(tmp_path / "ca.crt")
    with pytest.raises(kubeconfig.KubeconfigError, match="no such file"):
        kubeconfig.load([tmp_path / "missing"], must_exist=True)


def test_access_reads_server_ca_token_and_the_grpc_address(tmp_path: Path) -> None:
    found = kubeconfig.access(own())
    assert found == kubeconfig.Access("kubemu", "https://127.0.0.1:7001", "127.0.0.1:7000", CA, "t0k")
    (tmp_path / "ca.crt").write_bytes(CA)
    (tmp_path / "token").write_text("from-file\n")
    config = other()
    config["users"][0]["user"] = {"tokenFile": "token"}
    path = write(tmp_path / "config", config)
    plain = kubeconfig.resolve(path)
    assert (plain.grpc_server, plain.ca_data, plain.token) == ("", CA, "from-file")  # not a kubemu cluster
    with pytest.raises(kubeconfig.KubeconfigError, match='context "nope" does not exist'):
        kubeconfig.resolve(path, "nope")
    with pytest.raises(kubeconfig.KubeconfigError, match="current-context is not set"):
        kubeconfig.access(other(current=None))


def test_add_keeps_other_entries_and_makes_kubemu_current(tmp_path: Path) -> None:
    path = write(tmp_path / "config", other())
    before = yaml.safe_load(path.read_text())
    assert kubeconfig.add(path, own()) == "prod"
    after = yaml.safe_load(path.read_text())
    assert after["current-context"] == "kubemu"
    for key in ("clusters", "users", "contexts"):
        assert after[key][0] == before[key][0]  # untouched, relative CA path included
        assert [e["name"] for e in after[key]] == ["prod", "kubemu"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not (tmp_path / "config.lock").exists()
    assert kubeconfig.resolve(path).grpc_server == "127.0.0.1:7000"


def test_remove_takes_out_exactly_what_add_put_in(tmp_path: Path) -> None:
    path = write(tmp_path / "config", other())
    before = yaml.safe_load(path.read_text())
    previous = kubeconfig.add(path, own())
    assert kubeconfig.remove(path, "kubemu", "127.0.0.1:7000", previous)
    after = yaml.safe_load(path.read_text())
    assert {k: after[k] for k in before} == before
    assert not kubeconfig.remove(path, "kubemu", "127.0.0.1:7000", previous)  # twice is harmless


def test_remove_keeps_a_current_context_the_user_chose_since(tmp_path: Path) -> None:
    config = other()
    config["contexts"].append({"name": "dev", "context": {"cluster": "prod", "user": "prod"}})
    path = write(tmp_path / "config", config)
    previous = kubeconfig.add(path, own())
    data = yaml.safe_load(path.read_text())
    data["current-context"] = "dev"
    write(path, data)
    kubeconfig.remove(path, "kubemu", "127.0.0.1:7000", previous)
    assert yaml.safe_load(path.read_text())["current-context"] == "dev"


def test_remove_leaves_a_kubemu_context_another_cluster_wrote_since(tmp_path: Path) -> None:
    path = tmp_path / "config"
    first = kubeconfig.add(path, own("127.0.0.1:7000"))
    assert first == ""
    kubeconfig.add(path, own("127.0.0.1:8000", token="second"))
    assert not kubeconfig.remove(path, "kubemu", "127.0.0.1:7000", first)
    assert kubeconfig.resolve(path).token == "second"
    assert kubeconfig.remove(path, "kubemu", "127.0.0.1:8000", "kubemu")
    data = yaml.safe_load(path.read_text())
    assert data["clusters"] == data["users"] == data["contexts"] == []


def test_a_new_file_and_its_folder_are_made(tmp_path: Path) -> None:
    path = tmp_path / "deep" / ".kube" / "config"
    kubeconfig.add(path, own())
    assert kubeconfig.resolve(path).token == "t0k"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not kubeconfig.remove(tmp_path / "absent", "kubemu", "127.0.0.1:7000", "")
    assert not (tmp_path / "absent").exists()


def test_an_invalid_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("clusters: {a: b}\n")
    with pytest.raises(kubeconfig.KubeconfigError, match=f"invalid kubeconfig {path}"):
        kubeconfig.add(path, own())
    assert path.read_text() == "clusters: {a: b}\n"
    assert not (tmp_path / "config.lock").exists()


def test_token_for_finds_the_kubemu_cluster_by_its_grpc_address(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    write(first, other())
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}")
    assert kubeconfig.token_for("127.0.0.1:7000") is None
    kubeconfig.add(second, own("127.0.0.1:7000", token="seven"))
    # Not the current context of the merged files (the first file's "prod" is), still found by address.
    assert kubeconfig.token_for("127.0.0.1:7000") == "seven"
    assert kubeconfig.token_for("127.0.0.1:7001") is None
    first.write_text(": not yaml [")
    assert kubeconfig.token_for("127.0.0.1:7000") is None


async def test_the_client_sends_the_kubeconfig_token_unless_told(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from kubemu.client.client import Client

    path = tmp_path / "config"
    kubeconfig.add(path, own("127.0.0.1:7000", token="seven"))
    monkeypatch.setenv("KUBECONFIG", str(path))
    seven = (("authorization", "Bearer seven"),)
    for client, metadata in ((Client("127.0.0.1:7000"), seven),
                             (Client("127.0.0.1:7000", token="mine"), (("authorization", "Bearer mine"),)),
                             (Client("127.0.0.1:7000", token=""), ()),
                             (Client("127.0.0.1:9"), ()),
                             (Client.from_kubeconfig(), seven),
                             (Client.from_kubeconfig(path, server="127.0.0.1:9"), seven)):
        assert client.metadata == metadata
        await client.close()
    assert Client.from_kubeconfig(path, server="127.0.0.1:9").target == "127.0.0.1:9"
