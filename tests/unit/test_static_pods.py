"""The static pod folder scan: added, changed and removed manifests, and a manifest removed between the folder's
listing and its stat (as when `kubemu chaos run` replaces one) counted as gone instead of failing the scan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubelet.static_pods import StaticPodSource

MANIFEST = """apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: kube-system}
spec:
  containers: [{name: c, image: busybox}]
"""


def test_scan_follows_the_folder(tmp_path: Path) -> None:
    src = StaticPodSource(tmp_path, "node-1")
    f = tmp_path / "agent.yaml"
    f.write_text(MANIFEST)
    added, changed, removed = src.scan()
    assert [sp.pod.metadata.name for sp in added] == ["agent-node-1"] and not changed and not removed
    assert src.scan() == ([], [], [])  # nothing new
    f.write_text(MANIFEST.replace("busybox", "busybox:1.36"))
    added, changed, removed = src.scan()
    assert not added and [sp.pod.spec.containers[0].image for sp in changed] == ["busybox:1.36"] and not removed
    f.unlink()
    added, changed, removed = src.scan()
    assert not added and not changed and [sp.pod.metadata.name for sp in removed] == ["agent-node-1"]


def test_a_manifest_removed_between_listing_and_stat_is_gone_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = StaticPodSource(tmp_path, "node-1")
    f = tmp_path / "agent.yaml"
    f.write_text(MANIFEST)
    assert len(src.scan()[0]) == 1
    f.write_text(MANIFEST.replace("busybox", "busybox:1.36"))  # changed, then removed while being scanned
    real_stat = Path.stat
    calls: dict[Path, int] = {}

    def stat(self: Path, *args: Any, **kw: Any) -> Any:
        if self == f:
            calls[self] = calls.get(self, 0) + 1
            if calls[self] > 1:  # the listing's is_file() saw it; the scan's own stat does not
                raise FileNotFoundError(str(self))
        return real_stat(self, *args, **kw)

    monkeypatch.setattr(Path, "stat", stat)
    added, changed, removed = src.scan()
    assert not added and not changed and [sp.pod.metadata.name for sp in removed] == ["agent-node-1"]
