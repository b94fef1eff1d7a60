"""Invariant checkers over a chaos History: pure functions, each `(History) -> Verdict`.

Every checker reads only the records (no cluster, no clock) and runs in O(n log n) over the history, so a run of
~100k records is checked in well under a second per invariant. Resource versions are compared as integers.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kubemu.chaos.history import History

__all__ = [
    "ALL",
    "Verdict",
    "acknowledged_writes",
    "bound_once",
    "check_all",
    "format_table",
    "single_node",
    "static_pods_survive",
    "surge_bound",
    "watch_gap_free",
    "workloads_converge",
]

Rec = dict[str, Any]

ACKNOWLEDGED_WRITES = "acknowledged writes survive"
WATCH_GAP_FREE = "watch streams gap-free"
WORKLOADS_CONVERGE = "workloads converge"
SINGLE_NODE = "no pod runs on two nodes"
STATIC_PODS_SURVIVE = "static pods survive apiserver"
BOUND_ONCE = "no pod is ever bound twice"
SURGE_BOUND = "no ReplicaSet exceeds replicas + maxSurge"


@dataclass(frozen=True)
class Verdict:
    invariant: str
    ok: bool
    detail: str


# ---------------------------------------------------------------------------------------------------------------
# Small helpers


def _rv(value: Any) -> int:
    """A resourceVersion as an int ("" is 0: "from the beginning")."""
    return int(value) if value not in ("", None) else 0


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _kind(key: str) -> str:
    return key.split("/", 1)[0].lower()


def _namespace(key: str) -> str:
    parts = key.split("/")
    return parts[1] if len(parts) >= 3 else ""


def _short(workload_or_key: str) -> str:
    return workload_or_key.rsplit("/", 1)[-1]


def _ns_name(key: str) -> str:
    """'ReplicaSet/chaos/web-1' -> 'chaos/web-1'."""
    return key.split("/", 1)[1] if "/" in key else key


def _end_of_history(h: History) -> float:
    return max((float(r["t"]) for r in h.records), default=0.0)


# ---------------------------------------------------------------------------------------------------------------
# Client operations


@dataclass
class _Op:
    op: int
    client: str
    f: str
    key: str
    value: str
    invoked: int  # seq of the invoke
    status: str = "pending"  # ok | fail | info | pending (no completion: indeterminate)
    rv: int = -1
    completed: int = -1  # seq of the completion
    error: str = ""

    @property
    def indeterminate(self) -> bool:
        return self.status in ("info", "pending")

    def may_follow(self, ack: _Op) -> bool:
        """Could this (non-failed) write have taken effect after `ack`'s write?

        Invoked after it, or indeterminate (an info/never-completed write may land any time after its invoke), or
        still in flight when `ack` was invoked."""
        if self.status == "fail" or self is ack:
            return False
        return self.invoked > ack.invoked or self.indeterminate or self.completed > ack.invoked

    def describe(self) -> str:
        return f"{self.f} {self.value!r}" if self.f != "delete" else "delete"


def _ops(h: History) -> list[_Op]:
    ops: dict[int, _Op] = {}
    for r in h.records:
        typ = r["type"]
        if typ == "invoke":
            ops[r["op"]] = _Op(r["op"], str(r.get("client", "")), r["f"], r["key"], str(r.get("value", "")), r["seq"])
        elif typ in ("ok", "fail", "info"):
            o = ops.get(r.get("op", -1))
            if o is None or o.status != "pending":
                continue  # a completion without invoke, or a second one: only the first counts
            o.status, o.completed, o.error = typ, r["seq"], str(r.get("error", ""))
            if typ == "ok":
                o.rv = _rv(r.get("rv"))
    return list(ops.values())


# ---------------------------------------------------------------------------------------------------------------
# Watchers


@dataclass
class _Watcher:
    name: str
    kind: str  # lower case
    filter: str
    order: int
    events: list[Rec] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)
    by_key_rv: dict[tuple[str, int], Rec] = field(default_factory=dict)
    repeats: list[tuple[int, int]] = field(default_factory=list)  # (rv, highest rv seen before it)
    relists: list[int] = field(default_factory=list)
    los: list[int] = field(default_factory=list)  # covered ranges (lo, hi], disjoint and sorted
    his: list[int] = field(default_factory=list)

    def covers(self, rv: int) -> bool:
        i = bisect.bisect_left(self.his, rv)
        return i < len(self.his) and self.los[i] < rv

    def matches_key(self, key: str) -> bool | None:
        """Does a write on `key` belong in this stream? None: cannot tell from the key (a field filter)."""
        if _kind(key) != self.kind:
            return False
        if self.filter == "":
            return True
        if self.filter.startswith("namespace="):
            return _namespace(key) == self.filter.removeprefix("namespace=")
        return None


def _watchers(h: History) -> list[_Watcher]:
    """Every watcher with its events, repeats, relists and covered ranges.

    The covered range runs from the rv a stream starts from (watch-start, or the rv of a relist) to the last rv it
    has seen: an event's rv, or the rv a watch-resume resumes after (the watcher claims everything up to it, e.g.
    from a BOOKMARK, which is not recorded). A relist cuts the range: what lies between is missing by construction
    and counted once, as the relist itself.
    """
    watchers: dict[str, _Watcher] = {}
    segments: dict[str, list[tuple[int, int]]] = defaultdict(list)
    current: dict[str, tuple[int, int]] = {}
    highest: dict[str, int] = {}

    def close(name: str) -> None:
        seg = current.pop(name, None)
        if seg is not None and seg[1] > seg[0]:
            segments[name].append(seg)

    for r in h.records:
        typ = r["type"]
        if not typ.startswith("watch-"):
            continue
        name = str(r["watcher"])
        w = watchers.get(name)
        if typ == "watch-start":
            if w is None:
                w = watchers[name] = _Watcher(name, str(r.get("kind", "")).lower(), str(r.get("filter", "")),
                                              len(watchers))
            close(name)  # a watcher started again begins a new range
            start = _rv(r.get("rv"))
            current[name] = (start, start)
            continue
        if w is None:  # events with no watch-start: kind from the key, a filter nothing else shares
            w = watchers[name] = _Watcher(name, _kind(str(r.get("key", ""))), f"(no watch-start: {name})",
                                          len(watchers))
        if typ == "watch-event":
            rv = _rv(r.get("rv"))
            if name in highest and rv <= highest[name]:
                w.repeats.append((rv, highest[name]))
            highest[name] = max(rv, highest.get(name, rv))
            w.events.append(r)
            w.seen.add(rv)
            w.by_key_rv.setdefault((str(r.get("key", "")), rv), r)
            lo, hi = current.get(name, (rv - 1, rv - 1))
            current[name] = (lo, max(hi, rv))
        elif typ == "watch-resume":
            if name in current:
                lo, hi = current[name]
                current[name] = (lo, max(hi, _rv(r.get("rv"))))
        elif typ == "watch-relist":
            rv = _rv(r.get("rv"))
            w.relists.append(rv)
            close(name)
            current[name] = (rv, rv)
    for name, w in watchers.items():
        close(name)
        merged: list[tuple[int, int]] = []
        for lo, hi in sorted(segments[name]):
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        w.los = [lo for lo, _ in merged]
        w.his = [hi for _, hi in merged]
    return sorted(watchers.values(), key=lambda w: w.order)


class _WatcherIndex:
    """Watchers whose stream a write on a key belongs in, cached per (kind, namespace)."""

    def __init__(self, watchers: list[_Watcher]) -> None:
        self.watchers = watchers
        self._cache: dict[tuple[str, str], list[_Watcher]] = {}

    def for_key(self, key: str) -> list[_Watcher]:
        ck = (_kind(key), _namespace(key))
        hit = self._cache.get(ck)
        if hit is None:
            hit = self._cache[ck] = [w for w in self.watchers if w.matches_key(key)]
        return hit


# ---------------------------------------------------------------------------------------------------------------
# acknowledged writes survive


def acknowledged_writes(h: History) -> Verdict:
    ops = _ops(h)
    finals: dict[str, Rec] = {r["key"]: r for r in h.of("final")}
    by_key: dict[str, list[_Op]] = defaultdict(list)
    for o in ops:
        by_key[o.key].append(o)
    acked = [o for o in ops if o.status == "ok"]
    problems: dict[int, tuple[int, str]] = {}  # op -> (invoke seq, what went wrong); one per lost write

    def lose(o: _Op, text: str) -> None:
        if o.op not in problems or o.invoked < problems[o.op][0]:
            problems[o.op] = (o.invoked, text)

    for key, kops in by_key.items():
        oks = [o for o in kops if o.status == "ok"]
        if not oks:
            continue
        last = max(oks, key=lambda o: (o.rv, o.invoked))
        head = f"{key} acked rv {last.rv} ({last.describe()})"
        later = [o for o in kops if o.may_follow(last)]
        final = finals.get(key)
        if final is None:
            lose(last, f"{head}: no final record")
        elif final.get("absent"):
            if last.f != "delete" and not any(o.f == "delete" for o in later):
                lose(last, f"{head}: final is absent and no later delete")
        else:
            frv, fvalue = _rv(final.get("rv")), str(final.get("value", ""))
            found = f"final rv {frv} value {fvalue!r}"
            if frv == last.rv:
                if last.f == "delete" or fvalue != last.value:
                    lose(last, f"{head}: {found}")
            elif frv < last.rv:
                lose(last, f"{head}: {found} (older)")
            elif not any(o.f != "delete" and o.value == fvalue for o in later):
                lose(last, f"{head}: {found}, which no later write wrote")

    index = _WatcherIndex(_watchers(h))
    for o in acked:
        for w in index.for_key(o.key):
            if not w.covers(o.rv):
                continue
            ev = w.by_key_rv.get((o.key, o.rv))
            if ev is None:
                lose(o, f"{o.key} acked rv {o.rv} ({o.describe()}): missing from watcher {w.name}")
            elif o.f == "delete":
                if ev.get("event") != "DELETED":
                    lose(o, f"{o.key} acked delete at rv {o.rv}: watcher {w.name} saw {ev.get('event')}")
            elif "value" in ev and str(ev["value"]) != o.value:
                lose(o, f"{o.key} acked rv {o.rv} ({o.describe()}): watcher {w.name} saw value {ev['value']!r}")

    detail = f"{len(acked):,} writes, {len(problems):,} lost"
    if problems:
        detail += f"; first: {min(problems.values())[1]}"
    return Verdict(ACKNOWLEDGED_WRITES, not problems, detail)


# ---------------------------------------------------------------------------------------------------------------
# watch streams gap-free


def watch_gap_free(h: History) -> Verdict:
    watchers = _watchers(h)
    groups: dict[tuple[str, str], list[_Watcher]] = defaultdict(list)
    for w in watchers:
        groups[(w.kind, w.filter)].append(w)
    ok_writes = [o for o in _ops(h) if o.status == "ok"]

    gaps: list[tuple[int, int, str]] = []  # (watcher order, rv, text)
    for (kind, filt), members in groups.items():
        belongs: dict[int, str] = {}  # rv -> key, for the detail
        for w in members:
            for ev in w.events:
                belongs.setdefault(_rv(ev.get("rv")), str(ev.get("key", "")))
        if filt.startswith("namespace="):  # an unfiltered stream's events in that namespace belong too
            for w in groups.get((kind, ""), []):
                for ev in w.events:
                    k = str(ev.get("key", ""))
                    if members[0].matches_key(k):
                        belongs.setdefault(_rv(ev.get("rv")), k)
        for o in ok_writes:
            if members[0].matches_key(o.key):
                belongs.setdefault(o.rv, o.key)
        rvs = sorted(belongs)
        for w in members:
            for lo, hi in zip(w.los, w.his, strict=True):
                for rv in rvs[bisect.bisect_right(rvs, lo):bisect.bisect_right(rvs, hi)]:
                    if rv not in w.seen:
                        gaps.append((w.order, rv, f"watcher {w.name} missed rv {rv} ({belongs[rv]})"))
            for rv in w.relists:
                gaps.append((w.order, rv, f"watcher {w.name} relisted at rv {rv} (410 Gone)"))

    repeats = [(w.order, rv, f"watcher {w.name} saw rv {rv} after rv {before}")
               for w in watchers for rv, before in w.repeats]
    detail = f"{_plural(len(watchers), 'watcher')}, {_plural(len(gaps), 'gap')}, {_plural(len(repeats), 'repeat')}"
    if gaps:
        detail += f"; first gap: {min(gaps)[2]}"
    if repeats:
        detail += f"; first repeat: {min(repeats)[2]}"
    return Verdict(WATCH_GAP_FREE, not gaps and not repeats, detail)


# ---------------------------------------------------------------------------------------------------------------
# workloads converge


def workloads_converge(h: History) -> Verdict:
    recs = h.of("converged")
    if not recs:
        return Verdict(WORKLOADS_CONVERGE, False, "no workloads")
    parts = []
    for r in recs:
        name = _short(str(r.get("workload", "?")))
        ready, desired = r.get("ready", 0), r.get("desired", 0)
        seconds, bound = float(r.get("seconds", 0.0)), float(r.get("bound", 0.0))
        if r.get("ok"):
            parts.append(f"{name} {ready}/{desired} ready {seconds:.1f} s after last fault (bound {bound:g} s)")
        else:
            parts.append(f"{name} NOT converged: {ready}/{desired} ready, gave up after {seconds:.1f} s "
                         f"(bound {bound:g} s)")
    return Verdict(WORKLOADS_CONVERGE, all(bool(r.get("ok")) for r in recs), "; ".join(parts))


# ---------------------------------------------------------------------------------------------------------------
# Faults and kubelet intervals


@dataclass
class _Fault:
    id: int
    fault: str
    target: str
    nodes: list[str]
    start: float
    end: float  # inf: never ended


def _faults(h: History) -> list[_Fault]:
    faults: dict[Any, _Fault] = {}
    for r in h.of("fault"):
        fid = r.get("id")
        if r.get("phase") == "end":
            f = faults.get(fid)
            if f is not None and math.isinf(f.end):
                f.end = float(r["t"])
        elif fid not in faults:
            faults[fid] = _Fault(fid if isinstance(fid, int) else -1, str(r.get("fault", "")),
                                 str(r.get("target", "")), [str(n) for n in r.get("nodes", [])], float(r["t"]),
                                 math.inf)
    return list(faults.values())


@dataclass(frozen=True)
class _Interval:
    uid: str
    node: str
    pod: str
    start: float
    end: float  # a pod.stopped, the kill of the node's kubelet, or inf


def _kubelet_records(h: History) -> dict[str, list[Rec]]:
    """kubelet records per node, in time order (their t comes from log lines, not from write order)."""
    per_node: dict[str, list[Rec]] = defaultdict(list)
    for r in h.of("kubelet"):
        per_node[str(r.get("node", ""))].append(r)
    for recs in per_node.values():
        recs.sort(key=lambda r: (float(r["t"]), r["seq"]))
    return per_node


def _intervals(per_node: dict[str, list[Rec]], faults: list[_Fault]) -> list[_Interval]:
    """Running intervals [pod.started, pod.stopped) per (uid, node); one with no stop ends when that node's kubelet
    is killed after it started (its simulated containers die with it), else never."""
    kills: dict[str, list[float]] = defaultdict(list)
    for f in faults:
        if f.fault == "kill-kubelet":
            for n in f.nodes:
                kills[n].append(f.start)
    for times in kills.values():
        times.sort()
    out: list[_Interval] = []
    for node, recs in per_node.items():
        node_kills = kills.get(node, [])
        open_: dict[str, tuple[float, str, float]] = {}  # uid -> (start, pod, kill time that ends it)
        for r in recs:
            uid, t, ev = str(r.get("uid", "")), float(r["t"]), r.get("event")
            if uid in open_ and open_[uid][2] <= t:  # its kubelet was killed in between
                start, pod, killed = open_.pop(uid)
                out.append(_Interval(uid, node, pod, start, killed))
            if ev == "pod.started" and uid not in open_:
                i = bisect.bisect_right(node_kills, t)
                open_[uid] = (t, str(r.get("pod", "")), node_kills[i] if i < len(node_kills) else math.inf)
            elif ev == "pod.stopped" and uid in open_:
                start, pod, _ = open_.pop(uid)
                out.append(_Interval(uid, node, pod, start, t))
        for uid, (start, pod, killed) in open_.items():
            out.append(_Interval(uid, node, pod, start, killed))
    return out


def _fmt_t(t: float, t0: float) -> str:
    return "the end" if math.isinf(t) else f"{t - t0:.3f} s"


# ---------------------------------------------------------------------------------------------------------------
# no pod runs on two nodes


def single_node(h: History) -> Verdict:
    faults = _faults(h)
    per_node = _kubelet_records(h)
    intervals = _intervals(per_node, faults)
    t0 = min((float(r["t"]) for r in h.records), default=0.0)
    failures: list[tuple[float, str]] = []

    by_uid: dict[str, list[_Interval]] = defaultdict(list)
    for iv in intervals:
        by_uid[iv.uid].append(iv)
    for uid, ivs in by_uid.items():
        ivs.sort(key=lambda iv: (iv.start, iv.end))
        for i, a in enumerate(ivs):
            for b in ivs[i + 1:]:
                if b.start >= a.end:
                    break
                if b.node != a.node:
                    failures.append((b.start, f"pod {b.pod or a.pod} (uid {uid}) ran on {a.node} "
                                              f"[{_fmt_t(a.start, t0)}, {_fmt_t(a.end, t0)}) and on {b.node} "
                                              f"from {_fmt_t(b.start, t0)}"))
                    break

    # Pods deleted while their kubelet was paused or cut off must be stopped before it starts anything new.
    deletions: dict[str, list[float]] = defaultdict(list)
    for r in h.of("watch-event"):
        pod = r.get("pod")
        if isinstance(pod, dict) and (r.get("event") == "DELETED" or pod.get("deleting")):
            deletions[str(pod.get("uid", ""))].append(float(r["t"]))
    for times in deletions.values():
        times.sort()
    starts: dict[str, list[Rec]] = {
        node: [r for r in recs if r.get("event") == "pod.started"] for node, recs in per_node.items()
    }
    start_times = {node: [float(r["t"]) for r in recs] for node, recs in starts.items()}
    by_node: dict[str, list[_Interval]] = defaultdict(list)
    for iv in intervals:
        by_node[iv.node].append(iv)
    checked = 0
    for f in faults:
        if f.fault not in ("pause-kubelet", "partition-kubelet") or math.isinf(f.end):
            continue
        how = "paused" if f.fault == "pause-kubelet" else "partitioned"
        for node in f.nodes:
            pending = []  # still running when the fault ended, and deleted during it
            for iv in by_node.get(node, []):
                if iv.start < f.end < iv.end:
                    ts = deletions.get(iv.uid, [])
                    i = bisect.bisect_left(ts, f.start)
                    if i < len(ts) and ts[i] <= f.end:
                        pending.append(iv)
            if not pending:
                continue
            checked += len(pending)
            i = bisect.bisect_right(start_times.get(node, []), f.end)
            if i < len(start_times.get(node, [])):
                t, started = start_times[node][i], str(starts[node][i].get("pod", ""))
                late = [iv for iv in pending if iv.end > t]
                if late:
                    victim = max(late, key=lambda iv: iv.end)
                    failures.append((t, f"{node} started {started} before stopping {victim.pod} deleted while it "
                                        f"was {how}"))

    n_pods = len(by_uid)
    if failures:
        first = min(failures)[1]
        return Verdict(SINGLE_NODE, False, f"{_plural(len(failures), 'violation')} among "
                                           f"{_plural(n_pods, 'pod')}; first: {first}")
    detail = f"{_plural(n_pods, 'pod')} on one node each"
    if checked:
        detail += f"; {_plural(checked, 'pod')} deleted during a pause/partition stopped first"
    return Verdict(SINGLE_NODE, True, detail)


# ---------------------------------------------------------------------------------------------------------------
# static pods survive apiserver


def _merge(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _all_down_windows(h: History, faults: list[_Fault]) -> list[tuple[float, float]]:
    """Times when every apiserver of the `cluster` record was down at once (kill-apiserver start..end)."""
    clusters = h.of("cluster")
    apiservers = [str(a) for a in clusters[0].get("apiservers", [])] if clusters else []
    if not apiservers:
        return []
    points: list[tuple[float, int]] = []
    for a in apiservers:
        for lo, hi in _merge((f.start, f.end) for f in faults if f.fault == "kill-apiserver" and f.target == a):
            points += [(lo, 1), (hi, -1)]
    points.sort(key=lambda p: (p[0], p[1]))  # an end and a start at the same instant: the end first
    windows, down, since = [], 0, 0.0
    for t, delta in points:
        down += delta
        if delta == 1 and down == len(apiservers):
            since = t
        elif delta == -1 and down == len(apiservers) - 1 and t > since:
            windows.append((since, t))
    return windows


def static_pods_survive(h: History) -> Verdict:
    faults = _faults(h)
    windows = _all_down_windows(h, faults)
    t0 = min((float(r["t"]) for r in h.records), default=0.0)
    starts = [lo for lo, _ in windows]
    excused: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for f in faults:
        if f.fault in ("kill-kubelet", "pause-kubelet"):
            for n in f.nodes:
                excused[n].append((f.start, f.end))
    failures: list[str] = []
    stopped_in_windows = 0
    for r in h.of("kubelet"):
        if r.get("event") != "pod.stopped" or not r.get("static"):
            continue
        t, node = float(r["t"]), str(r.get("node", ""))
        i = bisect.bisect_right(starts, t) - 1
        if i < 0 or not t < windows[i][1]:
            continue
        stopped_in_windows += 1
        if any(lo <= t < hi for lo, hi in excused.get(node, [])):
            continue
        failures.append(f"{node} stopped static pod {r.get('pod')} at {_fmt_t(t, t0)}, while every apiserver was "
                        f"down ({_fmt_t(windows[i][0], t0)} to {_fmt_t(windows[i][1], t0)})")
    mirrors = h.of("mirror")
    for m in mirrors:
        if not m.get("present"):
            failures.append(f"mirror pod of {m.get('pod')} on {m.get('node')} missing")
        elif m.get("phase") != "Running":
            failures.append(f"mirror pod of {m.get('pod')} on {m.get('node')} is {m.get('phase')}, not Running")
    back = sum(1 for m in mirrors if m.get("present") and m.get("phase") == "Running")
    if failures:
        return Verdict(STATIC_PODS_SURVIVE, False,
                       f"{_plural(len(failures), 'failure')}; first: {failures[0]}")
    if not windows:
        if not mirrors:
            return Verdict(STATIC_PODS_SURVIVE, True, "not exercised")
        return Verdict(STATIC_PODS_SURVIVE, True, f"apiserver never fully down; {back:,} mirror pods back")
    end = _end_of_history(h)
    total = sum(min(hi, end) - lo for lo, hi in windows)
    return Verdict(STATIC_PODS_SURVIVE, True,
                   f"every apiserver down {_plural(len(windows), 'time')} ({total:.1f} s), no static pod stopped "
                   f"by a running kubelet; {back:,} mirror pods back")


# ---------------------------------------------------------------------------------------------------------------
# Pod, ReplicaSet and Deployment events, merged from every watcher


def _merged_events(h: History, field_name: str) -> list[Rec]:
    """Watch events carrying `field_name` (pod / rs / deployment), deduplicated by (key, rv), in rv order."""
    seen: set[tuple[str, int]] = set()
    out: list[tuple[int, int, Rec]] = []
    for r in h.of("watch-event"):
        if not isinstance(r.get(field_name), dict):
            continue
        rv = _rv(r.get("rv"))
        k = (str(r.get("key", "")), rv)
        if k in seen:
            continue
        seen.add(k)
        out.append((rv, r["seq"], r))
    out.sort(key=lambda x: (x[0], x[1]))
    return [r for _, _, r in out]


# ---------------------------------------------------------------------------------------------------------------
# no pod is ever bound twice


def bound_once(h: History) -> Verdict:
    bound: dict[str, tuple[str, int]] = {}  # uid -> (node, rv)
    uids: set[str] = set()
    failures: list[str] = []
    for r in _merged_events(h, "pod"):
        pod = r["pod"]
        uid, node, rv = str(pod.get("uid", "")), str(pod.get("node", "")), _rv(r.get("rv"))
        uids.add(uid)
        if uid not in bound:
            if node:
                bound[uid] = (node, rv)
        elif node != bound[uid][0]:
            first_node, first_rv = bound[uid]
            failures.append(f"pod {_ns_name(str(r.get('key', '')))} (uid {uid}) bound to {first_node} at rv "
                            f"{first_rv}, then to {node or '(no node)'} at rv {rv}")
            bound[uid] = (node, rv)
    detail = f"{_plural(len(uids), 'pod')}, {len(failures):,} rebound"
    if failures:
        detail += f"; first: {failures[0]}"
    return Verdict(BOUND_ONCE, not failures, detail)


# ---------------------------------------------------------------------------------------------------------------
# no ReplicaSet exceeds replicas + maxSurge


def surge_bound(h: History) -> Verdict:
    """Replays pods, ReplicaSets and Deployments in rv order. A ReplicaSet overruns when, at some rv, its live pods
    (not Succeeded/Failed, not deleting, not deleted) grow to more than its limit: the owning Deployment's replicas +
    maxSurge as of that rv, or its own replicas without a Deployment owner. Only growth is an overrun: after a
    scale-down the extra pods are still live until the controller deletes them, which is not a surge."""
    events = _merged_events(h, "pod") + _merged_events(h, "rs") + _merged_events(h, "deployment")
    events.sort(key=lambda r: (_rv(r.get("rv")), r["seq"]))
    rss: dict[str, tuple[int, str]] = {}  # RS key -> (replicas, owner)
    deps: dict[str, tuple[int, int]] = {}  # Deployment key -> (replicas, max_surge)
    pods: dict[str, tuple[str, bool]] = {}  # pod key -> (RS key, live)
    live: dict[str, int] = defaultdict(int)
    all_rs: set[str] = set()
    peak: dict[str, int] = {}
    failures: list[str] = []

    def limit(rs_key: str) -> tuple[int, str] | None:
        rs = rss.get(rs_key)
        if rs is None:
            return None
        replicas, owner = rs
        if owner.startswith("Deployment/"):
            d = deps.get(owner)
            if d is None:
                return None  # the owner was never seen: no limit known
            return d[0] + d[1], f"{owner} replicas {d[0]} + maxSurge {d[1]}"
        return replicas, f"its own replicas {replicas}"

    i = 0
    while i < len(events):
        rv = _rv(events[i].get("rv"))
        before: dict[str, int] = {}
        while i < len(events) and _rv(events[i].get("rv")) == rv:
            r = events[i]
            i += 1
            key, deleted = str(r.get("key", "")), r.get("event") == "DELETED"
            if isinstance(r.get("deployment"), dict):
                d = r["deployment"]
                if deleted:
                    deps.pop(key, None)
                else:
                    deps[key] = (int(d.get("replicas", 0)), int(d.get("max_surge", 0)))
            elif isinstance(r.get("rs"), dict):
                all_rs.add(key)
                if deleted:
                    rss.pop(key, None)
                else:
                    rss[key] = (int(r["rs"].get("replicas", 0)), str(r["rs"].get("owner", "")))
            else:
                pod = r["pod"]
                owner = str(pod.get("owner", ""))
                owner = owner if owner.startswith("ReplicaSet/") else ""
                is_live = not deleted and not pod.get("deleting") and pod.get("phase") not in ("Succeeded", "Failed")
                old_owner, old_live = pods.get(key, ("", False))
                for rs_key in {old_owner, owner} - {""}:
                    before.setdefault(rs_key, live[rs_key])
                if old_owner and old_live:
                    live[old_owner] -= 1
                if owner and is_live:
                    live[owner] += 1
                if deleted:
                    pods.pop(key, None)
                else:
                    pods[key] = (owner, is_live)
        for rs_key, was in before.items():
            now = live[rs_key]
            peak[rs_key] = max(peak.get(rs_key, 0), now)
            lim = limit(rs_key)
            if now > was and lim is not None and now > lim[0]:
                failures.append(f"ReplicaSet {_ns_name(rs_key)} had {now} live pods at rv {rv}, more than "
                                f"{lim[0]} ({lim[1]})")
    if not all_rs and not failures:
        return Verdict(SURGE_BOUND, True, "not exercised (no ReplicaSet events)")
    detail = f"{_plural(len(all_rs), 'ReplicaSet')}, {_plural(len(failures), 'overrun')}"
    if failures:
        detail += f"; first: {failures[0]}"
    elif peak:
        top = max(peak, key=lambda k: peak[k])
        detail += f"; most live pods: {peak[top]} ({_ns_name(top)})"
    return Verdict(SURGE_BOUND, not failures, detail)


# ---------------------------------------------------------------------------------------------------------------

ALL: list[Callable[[History], Verdict]] = [
    acknowledged_writes,
    watch_gap_free,
    workloads_converge,
    single_node,
    static_pods_survive,
    bound_once,
    surge_bound,
]

_NAMES: dict[str, str] = {
    "acknowledged_writes": ACKNOWLEDGED_WRITES,
    "watch_gap_free": WATCH_GAP_FREE,
    "workloads_converge": WORKLOADS_CONVERGE,
    "single_node": SINGLE_NODE,
    "static_pods_survive": STATIC_PODS_SURVIVE,
    "bound_once": BOUND_ONCE,
    "surge_bound": SURGE_BOUND,
}


def check_all(h: History) -> list[Verdict]:
    """Every checker in ALL; one that raises on a malformed history fails its invariant instead of the run."""
    verdicts = []
    for check in ALL:
        try:
            verdicts.append(check(h))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            name = _NAMES.get(check.__name__, check.__name__)
            verdicts.append(Verdict(name, False, f"malformed history: {type(e).__name__}: {e}"))
    return verdicts


def format_table(verdicts: Iterable[Verdict]) -> str:
    """invariant / result / detail, each column padded to its widest cell, three spaces between."""
    rows = [("invariant", "result", "detail")] + [(v.invariant, "ok" if v.ok else "FAIL", v.detail) for v in verdicts]
    widths = [max(len(row[c]) for row in rows) for c in range(2)]
    return "\n".join(f"{a.ljust(widths[0])}   {b.ljust(widths[1])}   {c}".rstrip() for a, b, c in rows)
