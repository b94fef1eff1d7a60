"""The scheduling framework's runtime (upstream's framework/runtime/framework.go): a profile's plugins checked
and collected once, per extension point, into the lists and tables the scheduling cycle iterates."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import cast

from kubemu.pb import core_pb2
from scheduler.framework import Snapshot
from scheduler.interface import (
    CandidateScorePlugin,
    FilterPlugin,
    IdentityNormalizePlugin,
    NormalizeValuesPlugin,
    Plugin,
    PluginError,
    PreFilterPlugin,
    PreFilterStatusPlugin,
    PreScorePlugin,
    ScorePlugin,
    check_plugin,
    plugin_name,
)

Skip = Callable[[core_pb2.Pod, Snapshot], bool]
NormalizeValues = Callable[[core_pb2.Pod, list[int], Snapshot], list[int]]


@dataclass(frozen=True, slots=True)
class ScoreEntry:
    """A score plugin as the cycle runs it: what it implements, read once here rather than asked each cycle."""

    plugin: ScorePlugin
    name: str
    weight: int
    skip: Skip | None
    """PreScore's Skip, when the plugin has one."""
    node_local: bool
    """Its scores read only the pod's spec and the node info: kept per node and pod spec."""
    final: bool
    """No NormalizeScore (IdentityNormalizePlugin): its scores are final as scored."""
    normalize_values: NormalizeValues | None
    """NormalizeScore over a list (NormalizeValuesPlugin), when it has it and is not final."""
    together: CandidateScorePlugin | None
    """The plugin, when it scores the candidates together in its normalize (CandidateScorePlugin)."""


class Framework:
    """frameworkImpl: each extension point's plugins, found by type (isinstance against its Protocol) once, at
    construction, so that a cycle calls hooks without looking for them. Construction fails (PluginError) on a
    plugin registered at a point it does not implement, two plugins of one name, a score plugin without a
    weight, and a plugin defining a public name that is no hook of the points it implements (check_plugin)."""

    def __init__(self, filters: Sequence[object], scores: Sequence[tuple[object, int]],
                 node_local: Collection[object] = ()) -> None:
        """`filters` in the order they run, `scores` with their weights (upstream's profile: the plugins enabled
        at Filter and at Score); `node_local`, those whose Filter and Score read only the pod's spec and the node
        info, whose answers the cycle keeps per node and pod spec (NodeInfo.local_results)."""
        for plugin in [*filters, *(p for p, _ in scores)]:
            check_plugin(plugin)
        self.filter_plugins: tuple[FilterPlugin, ...] = tuple(_filter(p) for p in filters)
        self.pre_filter_plugins: tuple[PreFilterPlugin, ...] = tuple(
            p for p in self.filter_plugins if isinstance(p, PreFilterPlugin))
        """PreFilter: the filters that can tell a pod they would pass every node (Skip), in filtering order."""
        self.pre_filter_status_plugins: tuple[PreFilterStatusPlugin, ...] = tuple(
            p for p in self.filter_plugins if isinstance(p, PreFilterStatusPlugin))
        """PreFilter: the filters that can fail a pod on every node at once, in filtering order."""
        self.score_plugins: tuple[ScorePlugin, ...] = tuple(_score(p) for p, _ in scores)
        self.pre_score_plugins: tuple[PreScorePlugin, ...] = tuple(
            p for p in self.score_plugins if isinstance(p, PreScorePlugin))
        """PreScore: the score plugins that can tell a pod they would score every node alike (Skip)."""
        self.score_plugin_weight: dict[str, int] = {}
        by_name: dict[str, object] = {}
        for plugin in [*self.filter_plugins, *self.score_plugins]:
            first = by_name.setdefault(plugin.name, plugin)
            if first is not plugin:
                raise PluginError(f"two plugins are named {plugin_name(plugin)}: {type(first).__qualname__} and "
                                  f"{type(plugin).__qualname__}")
        for plugin, weight in scores:
            if weight <= 0:
                raise PluginError(f"score plugin {plugin_name(plugin)} is not configured with weight")
            self.score_plugin_weight[_score(plugin).name] = weight
        for plugin in node_local:
            if not any(plugin is p for p in by_name.values()):
                raise PluginError(f"node-local plugin {plugin_name(plugin)} is registered at no extension point")
        self.node_local: frozenset[str] = frozenset(cast(Plugin, p).name for p in node_local)
        """The node-local plugins, by name."""

        # What the cycle iterates: each filter with its PreFilter's Skip, each score plugin as a ScoreEntry, with
        # the hooks bound here once.
        self.filters: tuple[tuple[FilterPlugin, Skip | None], ...] = tuple(
            (p, p.skip_filter if isinstance(p, PreFilterPlugin) else None) for p in self.filter_plugins)
        self.scores: tuple[ScoreEntry, ...] = tuple(self._entry(p) for p in self.score_plugins)

    def _entry(self, p: ScorePlugin) -> ScoreEntry:
        final = isinstance(p, IdentityNormalizePlugin) and p.normalize_is_identity
        return ScoreEntry(
            plugin=p, name=p.name, weight=self.score_plugin_weight[p.name],
            skip=p.skip if isinstance(p, PreScorePlugin) else None,
            node_local=p.name in self.node_local, final=final,
            normalize_values=p.normalize_values if isinstance(p, NormalizeValuesPlugin) and not final else None,
            together=p if isinstance(p, CandidateScorePlugin) and p.scores_in_normalize else None)


def _filter(plugin: object) -> FilterPlugin:
    if not isinstance(plugin, FilterPlugin):
        raise PluginError(f"plugin {plugin_name(plugin)} does not extend FilterPlugin plugin")
    return plugin


def _score(plugin: object) -> ScorePlugin:
    if not isinstance(plugin, ScorePlugin):
        raise PluginError(f"plugin {plugin_name(plugin)} does not extend ScorePlugin plugin")
    return plugin
