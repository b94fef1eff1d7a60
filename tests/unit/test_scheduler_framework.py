"""The scheduler's extension points: the Framework collects each point's plugins once, and a plugin whose public
names are not hooks of the points it implements (a misspelt hook) fails at construction, naming both."""

from __future__ import annotations

import random
from typing import Any, ClassVar

import pytest

from kubemu.api.serialization import from_dict
from kubemu.pb import core_pb2
from scheduler import plugins
from scheduler.framework import OK, NodeInfo, Snapshot, Status, unschedulable
from scheduler.interface import PluginError, check_plugin
from scheduler.plugins.node_resources_fit import node_resources_fit
from scheduler.runtime import Framework
from scheduler.scheduler import FRAMEWORK, decide

pytestmark = pytest.mark.unit


def node(name: str) -> core_pb2.Node:
    return from_dict({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},  # type: ignore[no-any-return]
                      "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"}}})


def pod(name: str) -> core_pb2.Pod:
    return from_dict({"apiVersion": "v1", "kind": "Pod",  # type: ignore[no-any-return]
                      "metadata": {"name": name, "namespace": "default"},
                      "spec": {"containers": [{"name": "c", "image": "x"}]}})


class NotOnA:
    """A filter with PreFilter: refuses node "a", and is skipped for pods named "free"."""

    name = "NotOnA"

    def skip_filter(self, pod: core_pb2.Pod, snapshot: Snapshot) -> bool:
        return pod.metadata.name == "free"

    def filter(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> Status:
        return unschedulable(self.name, "node a is refused") if node.name == "a" else OK


class MisspeltSkip(NotOnA):
    name = "Misspelt"

    def skip_filtr(self, pod: core_pb2.Pod, snapshot: Snapshot) -> bool:
        return True


def test_a_misspelt_hook_fails_the_framework_naming_the_plugin_and_the_method() -> None:
    with pytest.raises(PluginError) as caught:
        Framework([MisspeltSkip()], [])
    message = str(caught.value)
    assert '"Misspelt"' in message and "MisspeltSkip" in message
    assert "'skip_filtr'" in message and "did you mean 'skip_filter'?" in message


def test_a_misspelt_flag_and_a_half_implemented_point_fail_too() -> None:
    class Scorer:
        name = "Scorer"
        normalise_is_identity = True  # the British spelling would leave the scores normalized by `normalize`

        def score(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> int:
            return 0

        def normalize(self, pod: core_pb2.Pod, scores: dict[str, int], snapshot: Snapshot) -> dict[str, int]:
            return scores

    with pytest.raises(PluginError, match=r"\"Scorer\".*'normalise_is_identity'.*did you mean 'normalize_is_identity'"):
        Framework([], [(Scorer(), 1)])

    class SkipWithoutFilter:
        name = "SkipOnly"

        def skip_filter(self, pod: core_pb2.Pod, snapshot: Snapshot) -> bool:
            return True

    with pytest.raises(PluginError, match=r"'skip_filter'.*hook of PreFilterPlugin, which also needs 'filter'"):
        check_plugin(SkipWithoutFilter())


def test_any_other_public_method_fails_unless_declared_a_helper() -> None:
    class Chatty(NotOnA):
        def describe(self) -> str:
            return "not a hook"

    with pytest.raises(PluginError, match=r"'describe'.*\(FilterPlugin, PreFilterPlugin\)"):
        Framework([Chatty()], [])

    class Helpful(Chatty):
        helpers: ClassVar[frozenset[str]] = frozenset({"describe"})

    Framework([Helpful()], [])


def test_registering_a_plugin_where_it_does_not_fit_fails_as_upstream_says() -> None:
    with pytest.raises(PluginError, match='plugin "NotOnA" does not extend ScorePlugin plugin'):
        Framework([], [(NotOnA(), 1)])
    with pytest.raises(PluginError, match='score plugin "NodeResourcesFit" is not configured with weight'):
        Framework([], [(node_resources_fit, 0)])
    twin: Any = NotOnA()
    with pytest.raises(PluginError, match='two plugins are named "NotOnA"'):
        Framework([NotOnA(), twin], [])


def test_the_default_framework_collects_each_point_once() -> None:
    def names(ps: Any) -> list[str]:
        return [p.name for p in ps]

    assert names(FRAMEWORK.filter_plugins) == names(plugins.FILTERS)
    assert names(FRAMEWORK.pre_filter_plugins) == ["NodeAffinity", "NodePorts", "VolumeBinding", "PodTopologySpread",
                                                   "InterPodAffinity"]
    assert names(FRAMEWORK.pre_filter_status_plugins) == ["VolumeBinding"]
    assert names(FRAMEWORK.score_plugins) == [p.name for p, _ in plugins.SCORES]
    assert names(FRAMEWORK.pre_score_plugins) == ["NodeAffinity", "PodTopologySpread", "InterPodAffinity",
                                                  "ImageLocality"]
    assert {e.name for e in FRAMEWORK.scores if e.final} == {"NodeResourcesFit", "NodeResourcesBalancedAllocation",
                                                              "ImageLocality"}
    assert {e.name for e in FRAMEWORK.scores if e.normalize_values} == {"TaintToleration", "NodeAffinity"}
    assert [e.name for e in FRAMEWORK.scores if e.together] == ["PodTopologySpread"]
    assert {e.name: e.weight for e in FRAMEWORK.scores} == {p.name: w for p, w in plugins.SCORES}


def test_decide_runs_the_plugins_of_the_framework_it_is_given() -> None:
    framework = Framework([*plugins.FILTERS, NotOnA()], plugins.SCORES, plugins.NODE_LOCAL)
    for seed in range(10):
        snapshot = Snapshot([NodeInfo.build(node("a")), NodeInfo.build(node("b"))])
        d = decide(pod("p"), snapshot, random.Random(seed), framework=framework)
        assert d.node == "b" and d.statuses["a"].reasons == ("node a is refused",)
    free = decide(pod("free"), Snapshot([NodeInfo.build(node("a"))]), random.Random(0), framework=framework)
    assert free.node == "a"  # PreFilter's Skip: the filter is not run for this pod
