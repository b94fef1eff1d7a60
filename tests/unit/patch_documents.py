"""Hypothesis strategies for the documents the patch property tests work on: pods with the lists and maps that
exercise every merge rule (containers by name, env by name, ports by two keys, an atomic list, a set of finalizers,
maps of labels)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

names = st.sampled_from(["a", "b", "c", "web", "side"])
scalars = st.one_of(st.text(max_size=5), st.integers(-5, 5), st.booleans())
label_maps = st.dictionaries(names, st.text(max_size=4), max_size=3)


@st.composite
def containers(draw: st.DrawFn) -> dict[str, Any]:
    c: dict[str, Any] = {"name": draw(names), "image": draw(st.text(min_size=1, max_size=6))}
    if draw(st.booleans()):
        c["args"] = draw(st.lists(st.text(max_size=3), max_size=3))
    if draw(st.booleans()):
        c["env"] = [{"name": n, "value": v} for n, v in draw(st.dictionaries(names, st.text(max_size=3),
                                                                                  max_size=3)).items()]
    if draw(st.booleans()):
        c["ports"] = [{"containerPort": p, "protocol": "TCP"} for p in draw(st.sets(st.integers(1, 9), max_size=3))]
    return c


@st.composite
def pods(draw: st.DrawFn) -> dict[str, Any]:
    by_name = {c["name"]: c for c in draw(st.lists(containers(), min_size=1, max_size=3))}
    spec: dict[str, Any] = {"containers": list(by_name.values())}
    if draw(st.booleans()):
        spec["nodeSelector"] = draw(label_maps)
    if draw(st.booleans()):
        spec["tolerations"] = [{"key": k, "operator": "Exists"} for k in draw(st.lists(names, max_size=2))]
    meta: dict[str, Any] = {"name": "p", "labels": draw(label_maps)}
    if draw(st.booleans()):
        meta["finalizers"] = sorted(draw(st.sets(st.sampled_from(["x.io/a", "x.io/b", "x.io/c"]))))
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
