"""The chaos history (JSON lines) and its invariant checkers: each checker passes a clean history and fails every
doctored one, so none of them can pass by construction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubemu.chaos import checkers
from kubemu.chaos.checkers import Verdict, check_all, format_table
from kubemu.chaos.history import History, HistoryError

pytestmark = pytest.mark.unit

Rec = dict[str, Any]


# ---------------------------------------------------------------------------------------------------------------
# Helpers that write one kind of record each; t defaults to the record's position, so histories read in order.


def rec(h: History, type: str, t: float | None = None, **fields: Any) -> Rec:
    return h.record(type, t=float(len(h.records)) if t is None else t, **fields)


def cluster(h: History, apiservers: tuple[str, ...] = ("apiserver-1", "apiserver-2")) -> None:
    rec(h, "cluster", t=0.0, apiservers=list(apiservers),
        kubelets={"kubelet-1": ["node-1"], "kubelet-2": ["node-2"], "kubelet-3": ["node-3"]},
        backend="local", seed=7, config={"grace": 2.0, "toleration": 5.0, "slack": 1.0})


_ops = iter(range(1, 1_000_000))


def write(h: History, key: str, value: str, rv: int | None, *, f: str = "update", result: str = "ok",
          client: str = "w1") -> int:
    """An invoke and its completion (result "none": no completion at all)."""
    op = next(_ops)
    rec(h, "invoke", op=op, client=client, f=f, key=key, value=value if f != "delete" else "")
    if result == "ok":
        rec(h, "ok", op=op, rv=str(rv))
    elif result in ("fail", "info"):
        rec(h, result, op=op, error="Conflict" if result == "fail" else "DEADLINE_EXCEEDED")
    return op


def final(h: History, key: str, rv: int | None = None, value: str = "") -> None:
    if rv is None:
        rec(h, "final", key=key, absent=True)
    else:
        rec(h, "final", key=key, rv=str(rv), value=value)


def watch(h: History, watcher: str, rv: int, kind: str = "Lease", filt: str = "namespace=chaos") -> None:
    rec(h, "watch-start", watcher=watcher, kind=kind, filter=filt, rv=str(rv))


def event(h: History, watcher: str, key: str, rv: int, value: str | None = None, *, ev: str = "MODIFIED",
          **extra: Any) -> None:
    fields: dict[str, Any] = {"watcher": watcher, "event": ev, "key": key, "rv": str(rv), **extra}
    if value is not None:
        fields["value"] = value
    rec(h, "watch-event", **fields)


def pod_event(h: History, watcher: str, name: str, rv: int, *, node: str = "", uid: str = "", phase: str = "Running",
              deleting: bool = False, owner: str = "", ev: str = "MODIFIED", t: float | None = None) -> None:
    pod = {"uid": uid or f"uid-{name}", "node": node, "phase": phase, "deleting": deleting, "owner": owner,
           "static": False}
    rec(h, "watch-event", t=t, watcher=watcher, event=ev, key=f"Pod/chaos/{name}", rv=str(rv), pod=pod)


def fault(h: History, fid: int, kind: str, target: str, nodes: list[str], start: float, end: float | None) -> None:
    rec(h, "fault", t=start, id=fid, fault=kind, target=target, nodes=nodes, phase="start")
    if end is not None:
        rec(h, "fault", t=end, id=fid, fault=kind, target=target, nodes=nodes, phase="end")


def kubelet(h: History, node: str, what: str, pod: str, t: float, *, static: bool = False) -> None:
    rec(h, "kubelet", t=t, node=node, event=f"pod.{what}", uid=f"uid-{pod}", pod=f"chaos/{pod}", static=static)


def failed(v: Verdict, *fragments: str) -> None:
    assert not v.ok, v
    for text in fragments:
        assert text in v.detail, v.detail


# ---------------------------------------------------------------------------------------------------------------
# History


def test_history_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    with History(path) as h:
        first = h.record("cluster", apiservers=["a"], seed=1)
        h.record("fault", t=12.5, id=1, fault="kill-kubelet", target="kubelet-1", nodes=["node-1"], phase="start")
        h.record("final", key="Lease/chaos/w1-0", absent=True)
    assert first["seq"] == 0 and isinstance(first["t"], float)
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["seq"] == i for i, line in enumerate(lines))
    loaded = History.load(path)
    assert loaded.records == h.records
    assert [r["t"] for r in loaded.of("fault")] == [12.5]
    assert loaded.of("final")[0]["absent"] is True
    assert loaded.of("nothing") == []


def test_history_append_continues_seq_and_reserved_fields(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    with History(path) as h:
        h.record("a")
    with History(path, append=True) as h2:
        assert h2.record("b")["seq"] == 1
    assert [r["type"] for r in History.load(path).records] == ["a", "b"]
    with History(path) as h3:  # without append the file starts over
        h3.record("c")
    assert [r["type"] for r in History.load(path).records] == ["c"]
    with pytest.raises(TypeError):
        History().record("x", seq=5)
    with pytest.raises(TypeError):  # not JSON: refused, nothing recorded
        History().record("x", value=object())


def test_history_in_memory_only() -> None:
    h = History()
    h.record("a", t=1.0)
    h.record("b", t=2.0)
    assert [r["seq"] for r in h.records] == [0, 1] and len(h) == 2 and h.path is None


@pytest.mark.parametrize(
    ("content", "line", "reason"),
    [
        ('{"type":"a","t":1,"seq":0}\n{"type": "b", "t": 2,\n', 2, "bad JSON"),
        ('{"type":"a","t":1,"seq":0}\n\n[1, 2]\n', 3, "JSON object"),
        ('{"t":1,"seq":0}\n', 1, '"type"'),
        ('{"type":"a","seq":0}\n', 1, '"t"'),
    ],
)
def test_history_load_error_names_file_and_line(tmp_path: Path, content: str, line: int, reason: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(HistoryError) as e:
        History.load(path)
    assert f"{path}:{line}:" in str(e.value) and reason in str(e.value)


# ---------------------------------------------------------------------------------------------------------------
# acknowledged writes survive

K = "Lease/chaos/w1-0"
K2 = "Lease/chaos/w2-0"


def clean_writes() -> History:
    h = History()
    cluster(h)
    watch(h, "leases", 0)
    write(h, K, "a", 10, f="create")
    event(h, "leases", K, 10, "a", ev="ADDED")
    write(h, K, "b", 12)
    event(h, "leases", K, 12, "b")
    write(h, K2, "x", 13, f="create")
    event(h, "leases", K2, 13, "x", ev="ADDED")
    write(h, K2, "", 14, f="delete")
    event(h, "leases", K2, 14, "x", ev="DELETED")
    final(h, K, 12, "b")
    final(h, K2)
    return h


def test_acknowledged_writes_clean() -> None:
    assert checkers.acknowledged_writes(clean_writes()) == Verdict("acknowledged writes survive", True,
                                                                    "4 writes, 0 lost")


def test_acknowledged_writes_counts_with_thousands_separator() -> None:
    h = History()
    for i in range(1200):
        write(h, f"Lease/chaos/k{i}", "v", i + 1, f="create")
        final(h, f"Lease/chaos/k{i}", i + 1, "v")
    assert checkers.acknowledged_writes(h).detail == "1,200 writes, 0 lost"


def test_acknowledged_writes_lost_ack() -> None:
    h = clean_writes()
    h.records = [r for r in h.records if not (r["type"] == "final" and r["key"] == K)]
    final(h, K, 10, "a")  # the store went back to the first write
    failed(checkers.acknowledged_writes(h), "1 lost", K, "acked rv 12", "final rv 10 value 'a'")


def test_acknowledged_writes_missing_final_and_absent_without_delete() -> None:
    h = clean_writes()
    h.records = [r for r in h.records if r["type"] != "final"]
    final(h, K2)
    failed(checkers.acknowledged_writes(h), "1 lost", K, "no final record")
    h = clean_writes()
    h.records = [r for r in h.records if not (r["type"] == "final" and r["key"] == K)]
    final(h, K)
    failed(checkers.acknowledged_writes(h), K, "absent and no later delete")


def test_acknowledged_writes_changed_value() -> None:
    h = clean_writes()
    h.records = [r for r in h.records if not (r["type"] == "final" and r["key"] == K)]
    final(h, K, 12, "zzz")
    failed(checkers.acknowledged_writes(h), K, "acked rv 12", "'zzz'")


def test_acknowledged_writes_later_indeterminate_write_may_win() -> None:
    h = History()
    write(h, K, "a", 10, f="create")
    write(h, K, "b", None, result="info")  # timed out, landed anyway at rv 11
    write(h, K, "c", None, result="none")  # never completed: did not land
    final(h, K, 11, "b")
    assert checkers.acknowledged_writes(h).ok
    # An indeterminate write invoked before the ack may still land after it.
    h = History()
    write(h, K, "early", None, result="info")
    write(h, K, "a", 10)
    final(h, K, 11, "early")
    assert checkers.acknowledged_writes(h).ok


def test_acknowledged_writes_failed_write_cannot_explain_final() -> None:
    h = History()
    write(h, K, "a", 10, f="create")
    write(h, K, "b", None, result="fail")
    final(h, K, 11, "b")
    failed(checkers.acknowledged_writes(h), "final rv 11 value 'b', which no later write wrote")
    h = History()
    write(h, K, "a", 10, f="create")
    write(h, K, "", None, f="delete", result="fail")
    final(h, K)
    failed(checkers.acknowledged_writes(h), "absent")
    h = History()
    write(h, K, "a", 10, f="create")
    write(h, K, "", None, f="delete", result="info")
    final(h, K)
    assert checkers.acknowledged_writes(h).ok


def test_acknowledged_writes_missing_from_watch() -> None:
    h = clean_writes()
    h.records = [r for r in h.records if not (r["type"] == "watch-event" and r["rv"] == "12")]
    failed(checkers.acknowledged_writes(h), "1 lost", K, "acked rv 12", "missing from watcher leases")


def test_acknowledged_writes_watch_saw_other_value() -> None:
    h = clean_writes()
    next(r for r in h.records if r["type"] == "watch-event" and r["rv"] == "12")["value"] = "other"
    failed(checkers.acknowledged_writes(h), "watcher leases saw value 'other'")


def test_acknowledged_writes_outside_watch_range_or_filter_are_not_checked() -> None:
    h = History()
    watch(h, "late", 20)  # starts after the write
    watch(h, "other-ns", 0, filt="namespace=kube-system")
    watch(h, "pods", 0, kind="Pod", filt="")
    write(h, K, "a", 10, f="create")
    write(h, K, "b", 21)
    event(h, "late", K, 21, "b")
    final(h, K, 21, "b")
    assert checkers.acknowledged_writes(h).ok


# ---------------------------------------------------------------------------------------------------------------
# watch streams gap-free


def clean_watches() -> History:
    h = History()
    watch(h, "a", 5)
    watch(h, "b", 5)
    watch(h, "nodes-1", 5, kind="Pod", filt="spec.nodeName=node-1")
    for rv in (6, 7):
        write(h, K, f"v{rv}", rv)
        event(h, "a", K, rv, f"v{rv}")
        event(h, "b", K, rv, f"v{rv}")
    pod_event(h, "nodes-1", "p", 8, node="node-1")
    rec(h, "watch-break", watcher="b", error="UNAVAILABLE")
    rec(h, "watch-resume", watcher="b", rv="7")
    write(h, "Lease/kube-system/x", "x", 9)  # another namespace: not in these streams
    write(h, K, "v10", 10)
    event(h, "a", K, 10, "v10")
    event(h, "b", K, 10, "v10")
    return h


def test_watch_gap_free_clean() -> None:
    assert checkers.watch_gap_free(clean_watches()) == Verdict("watch streams gap-free", True,
                                                                "3 watchers, 0 gaps, 0 repeats")


def test_watch_gap_free_gap_seen_by_another_watcher() -> None:
    h = clean_watches()
    h.records = [r for r in h.records if not (r.get("watcher") == "b" and r.get("rv") == "7")]
    failed(checkers.watch_gap_free(h), "1 gap,", "watcher b missed rv 7")


def test_watch_gap_free_gap_from_an_acknowledged_write() -> None:
    h = clean_watches()
    write(h, K, "v11", 11)  # nobody saw it, but both streams go on past it
    event(h, "a", K, 12, "v12")
    event(h, "b", K, 12, "v12")
    failed(checkers.watch_gap_free(h), "2 gaps", "watcher a missed rv 11 (Lease/chaos/w1-0)")


def test_watch_gap_free_gap_after_bookmark_resume() -> None:
    h = clean_watches()
    write(h, K, "v11", 11)
    rec(h, "watch-break", watcher="a", error="UNAVAILABLE")
    rec(h, "watch-resume", watcher="a", rv="11")  # claims it has everything up to 11 (a bookmark)
    failed(checkers.watch_gap_free(h), "1 gap", "watcher a missed rv 11")


def test_watch_gap_free_repeat() -> None:
    h = clean_watches()
    rec(h, "watch-break", watcher="a", error="UNAVAILABLE")
    rec(h, "watch-resume", watcher="a", rv="7")
    event(h, "a", K, 10, "v10")  # delivered again after the resume
    failed(checkers.watch_gap_free(h), "0 gaps, 1 repeat", "watcher a saw rv 10 after rv 10")


def test_watch_gap_free_going_backwards_is_a_repeat() -> None:
    h = clean_watches()
    event(h, "b", K, 6, "v6")
    failed(checkers.watch_gap_free(h), "1 repeat", "watcher b saw rv 6 after rv 10")


def test_watch_gap_free_relist_is_a_gap() -> None:
    h = clean_watches()
    rec(h, "watch-break", watcher="a", error="UNAVAILABLE")
    write(h, K, "v11", 11)
    event(h, "b", K, 11, "v11")
    rec(h, "watch-relist", watcher="a", rv="11")  # 410 Gone: rv 11 is missing by construction, counted once
    failed(checkers.watch_gap_free(h), "1 gap,", "watcher a relisted at rv 11")


def test_watch_gap_free_namespace_stream_owes_what_an_unfiltered_one_saw() -> None:
    h = clean_watches()
    watch(h, "all", 14, filt="")
    event(h, "all", "Lease/chaos/other", 15, "z")  # written by something outside the history's clients
    event(h, "all", "Lease/kube-system/y", 16, "z")  # not in namespace chaos: a and b do not owe it
    event(h, "a", K, 17, "v17")
    event(h, "b", K, 17, "v17")
    event(h, "all", K, 17, "v17")
    failed(checkers.watch_gap_free(h), "4 watchers, 2 gaps", "watcher a missed rv 15 (Lease/chaos/other)")


# ---------------------------------------------------------------------------------------------------------------
# workloads converge


def converged(h: History, workload: str, ok: bool, ready: int, desired: int, seconds: float) -> None:
    rec(h, "converged", workload=workload, ok=ok, ready=ready, desired=desired, seconds=seconds, bound=20.0)


def test_workloads_converge_clean() -> None:
    h = History()
    converged(h, "Deployment/chaos/web", True, 12, 12, 8.08)
    converged(h, "Job/chaos/batch", True, 20, 20, 11.0)
    assert checkers.workloads_converge(h) == Verdict(
        "workloads converge", True,
        "web 12/12 ready 8.1 s after last fault (bound 20 s); batch 20/20 ready 11.0 s after last fault (bound 20 s)")


def test_workloads_converge_not_converged() -> None:
    h = History()
    converged(h, "Deployment/chaos/web", True, 12, 12, 8.0)
    converged(h, "Job/chaos/batch", False, 17, 20, 20.0)
    failed(checkers.workloads_converge(h), "batch NOT converged: 17/20 ready, gave up after 20.0 s")


def test_workloads_converge_without_workloads_fails() -> None:
    assert checkers.workloads_converge(History()) == Verdict("workloads converge", False, "no workloads")


# ---------------------------------------------------------------------------------------------------------------
# no pod runs on two nodes


def test_single_node_clean_move() -> None:
    h = History()
    kubelet(h, "node-1", "started", "x", 1.0)
    kubelet(h, "node-1", "stopped", "x", 5.0)
    kubelet(h, "node-2", "started", "x", 5.0)  # [start, stop): touching is not overlapping
    kubelet(h, "node-3", "started", "y", 2.0)
    v = checkers.single_node(h)
    assert v.ok and v.detail == "2 pods on one node each", v


def test_single_node_pod_on_two_nodes() -> None:
    h = History()
    kubelet(h, "node-1", "started", "x", 1.0)
    kubelet(h, "node-2", "started", "x", 4.0)
    kubelet(h, "node-1", "stopped", "x", 5.0)
    failed(checkers.single_node(h), "1 violation", "pod chaos/x (uid uid-x) ran on node-1", "on node-2")


def test_single_node_killed_kubelet_takes_its_pods_along() -> None:
    h = History()
    kubelet(h, "node-1", "started", "x", 1.0)
    fault(h, 1, "kill-kubelet", "kubelet-1", ["node-1"], 3.0, 9.0)
    kubelet(h, "node-2", "started", "x", 4.0)
    assert checkers.single_node(h).ok
    h = History()  # the same without the kill: never stopped, so it still runs on node-1
    kubelet(h, "node-1", "started", "x", 1.0)
    fault(h, 1, "pause-kubelet", "kubelet-1", ["node-1"], 3.0, 9.0)
    kubelet(h, "node-2", "started", "x", 4.0)
    failed(checkers.single_node(h), "ran on node-1")


def paused_node(stop_first: bool, how: str = "pause-kubelet") -> History:
    h = History()
    kubelet(h, "node-2", "started", "x", 1.0)
    kubelet(h, "node-2", "started", "keep", 1.5)
    fault(h, 1, how, "kubelet-2", ["node-2"], 10.0, 20.0)
    pod_event(h, "pods", "x", 30, node="node-2", uid="uid-x", deleting=True, t=12.0)
    if stop_first:
        kubelet(h, "node-2", "stopped", "x", 21.0)
        kubelet(h, "node-2", "started", "y", 22.0)
    else:
        kubelet(h, "node-2", "started", "y", 21.0)
        kubelet(h, "node-2", "stopped", "x", 22.0)
    return h


def test_single_node_returning_kubelet_stops_deleted_pods_first() -> None:
    v = checkers.single_node(paused_node(True))
    assert v.ok and "1 pod deleted during a pause/partition stopped first" in v.detail, v


def test_single_node_returning_kubelet_starts_before_stopping() -> None:
    failed(checkers.single_node(paused_node(False)),
           "node-2 started chaos/y before stopping chaos/x deleted while it was paused")
    failed(checkers.single_node(paused_node(False, "partition-kubelet")), "while it was partitioned")


# ---------------------------------------------------------------------------------------------------------------
# static pods survive apiserver


def outage(stop_at: float | None, *, both: bool = True, kubelet_killed: bool = False) -> History:
    h = History()
    cluster(h)
    kubelet(h, "node-1", "started", "static-web-node-1", 1.0, static=True)
    fault(h, 1, "kill-apiserver", "apiserver-1", [], 10.0, 20.0)
    if both:
        fault(h, 2, "kill-apiserver", "apiserver-2", [], 12.0, 25.0)
    if kubelet_killed:
        fault(h, 3, "kill-kubelet", "kubelet-1", ["node-1"], 13.0, 16.0)
    if stop_at is not None:
        kubelet(h, "node-1", "stopped", "static-web-node-1", stop_at, static=True)
        kubelet(h, "node-1", "started", "static-web-node-1", stop_at + 1, static=True)
    rec(h, "mirror", t=40.0, node="node-1", pod="chaos/static-web", present=True, phase="Running")
    return h


def test_static_pods_survive_clean() -> None:
    v = checkers.static_pods_survive(outage(None))
    assert v.ok and v.detail.startswith("every apiserver down 1 time (8.0 s)") and "1 mirror pods back" in v.detail


def test_static_pods_stopped_while_apiserver_down() -> None:
    failed(checkers.static_pods_survive(outage(15.0)), "node-1 stopped static pod chaos/static-web-node-1",
           "while every apiserver was down")


def test_static_pods_stop_outside_window_or_by_killed_kubelet_is_fine() -> None:
    assert checkers.static_pods_survive(outage(11.0)).ok  # only apiserver-1 down yet
    assert checkers.static_pods_survive(outage(15.0, kubelet_killed=True)).ok
    v = checkers.static_pods_survive(outage(15.0, both=False))
    assert v == Verdict("static pods survive apiserver", True, "apiserver never fully down; 1 mirror pods back")


def test_static_pods_missing_or_not_running_mirror() -> None:
    h = outage(None)
    rec(h, "mirror", node="node-2", pod="chaos/static-db", present=False, phase="")
    failed(checkers.static_pods_survive(h), "mirror pod of chaos/static-db on node-2 missing")
    h = outage(None, both=False)
    h.of("mirror")[0]["phase"] = "Pending"
    failed(checkers.static_pods_survive(h), "is Pending, not Running")


def test_static_pods_not_exercised() -> None:
    h = History()
    cluster(h)
    assert checkers.static_pods_survive(h) == Verdict("static pods survive apiserver", True, "not exercised")


# ---------------------------------------------------------------------------------------------------------------
# no pod is ever bound twice


def bindings() -> History:
    h = History()
    pod_event(h, "pods", "p", 5, ev="ADDED", phase="Pending")
    pod_event(h, "pods", "p", 6, node="node-1", phase="Pending")
    pod_event(h, "node-1", "p", 6, node="node-1", phase="Pending", ev="ADDED")
    pod_event(h, "pods", "p", 7, node="node-1")
    pod_event(h, "pods", "q", 8, node="node-2")
    return h


def test_bound_once_clean() -> None:
    assert checkers.bound_once(bindings()) == Verdict("no pod is ever bound twice", True, "2 pods, 0 rebound")


def test_bound_once_rebound() -> None:
    h = bindings()
    pod_event(h, "pods", "p", 9, node="node-3")
    failed(checkers.bound_once(h), "1 rebound", "pod chaos/p (uid uid-p) bound to node-1 at rv 6, then to node-3 "
                                                "at rv 9")


# ---------------------------------------------------------------------------------------------------------------
# no ReplicaSet exceeds replicas + maxSurge

RS = "ReplicaSet/chaos/web-1"


def rollout() -> History:
    """A Deployment of 3 with maxSurge 1: its ReplicaSet may have 4 live pods, seen by two watchers."""
    h = History()
    rec(h, "watch-event", watcher="deps", event="ADDED", key="Deployment/chaos/web", rv="10",
        deployment={"replicas": 3, "max_surge": 1})
    rec(h, "watch-event", watcher="rss", event="ADDED", key=RS, rv="11",
        rs={"uid": "rs-1", "replicas": 3, "owner": "Deployment/chaos/web"})
    for i in range(4):
        for watcher in ("pods", "pods-again"):  # the same events twice: deduplicated by (key, rv)
            pod_event(h, watcher, f"web-{i}", 12 + i, owner=RS, phase="Pending", ev="ADDED")
    pod_event(h, "pods", "web-0", 20, owner=RS, deleting=True)
    pod_event(h, "pods", "web-4", 21, owner=RS, phase="Pending", ev="ADDED")  # replaces a deleting pod
    pod_event(h, "pods", "web-1", 22, owner=RS, phase="Failed")
    pod_event(h, "pods", "web-5", 23, owner=RS, phase="Pending", ev="ADDED")  # replaces a failed one
    return h


def test_surge_bound_clean() -> None:
    v = checkers.surge_bound(rollout())
    assert v.ok and v.detail.startswith("1 ReplicaSet, 0 overruns"), v


def test_surge_bound_overrun() -> None:
    h = rollout()
    pod_event(h, "pods", "web-6", 24, owner=RS, phase="Pending", ev="ADDED")
    failed(checkers.surge_bound(h), "1 overrun", "ReplicaSet chaos/web-1 had 5 live pods at rv 24, more than 4",
           "Deployment/chaos/web replicas 3 + maxSurge 1")


def test_surge_bound_scale_down_is_not_an_overrun_but_growth_above_it_is() -> None:
    h = rollout()
    rec(h, "watch-event", watcher="deps", event="MODIFIED", key="Deployment/chaos/web", rv="24",
        deployment={"replicas": 1, "max_surge": 1})
    assert checkers.surge_bound(h).ok  # 4 live pods, limit 2: the controller has not deleted them yet
    pod_event(h, "pods", "web-6", 25, owner=RS, phase="Pending", ev="ADDED")
    failed(checkers.surge_bound(h), "5 live pods at rv 25, more than 2")


def test_surge_bound_replicaset_without_deployment_uses_its_replicas() -> None:
    h = History()
    rec(h, "watch-event", watcher="rss", event="ADDED", key=RS, rv="11", rs={"uid": "rs-1", "replicas": 1,
                                                                            "owner": ""})
    pod_event(h, "pods", "a", 12, owner=RS, ev="ADDED")
    assert checkers.surge_bound(h).ok
    pod_event(h, "pods", "b", 13, owner=RS, ev="ADDED")
    failed(checkers.surge_bound(h), "2 live pods at rv 13, more than 1 (its own replicas 1)")


# ---------------------------------------------------------------------------------------------------------------
# check_all and the table


def test_check_all_runs_every_invariant_in_order() -> None:
    h = clean_writes()
    verdicts = check_all(h)
    assert [v.invariant for v in verdicts] == [
        "acknowledged writes survive", "watch streams gap-free", "workloads converge", "no pod runs on two nodes",
        "static pods survive apiserver", "no pod is ever bound twice", "no ReplicaSet exceeds replicas + maxSurge",
    ]
    assert [v.ok for v in verdicts] == [True, True, False, True, True, True, True]  # no workloads in it


def test_check_all_turns_a_malformed_history_into_a_failure() -> None:
    h = History()
    rec(h, "ok", op=1, rv="1")
    rec(h, "invoke", op=2, client="c", f="update", key=K, value="v")
    rec(h, "ok", op=2, rv="not-a-number")
    v = check_all(h)[0]
    assert not v.ok and v.detail.startswith("malformed history: ValueError"), v


def test_format_table() -> None:
    table = format_table([Verdict("acknowledged writes survive", True, "4,812 writes, 0 lost"),
                          Verdict("no pod runs on two nodes", False, "boom")])
    assert table.splitlines() == [
        "invariant                     result   detail",
        "acknowledged writes survive   ok       4,812 writes, 0 lost",
        "no pod runs on two nodes      FAIL     boom",
    ]
