"""The scheduling framework's extension points, one Protocol each (upstream's framework/interface.go), and the
check that a plugin's public names are hooks of the points it implements, so a misspelt hook fails loudly."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from kubemu.pb import core_pb2
    from scheduler.framework import NodeInfo, Snapshot, Status


class PluginError(TypeError):
    """A plugin that does not fit the extension points it is registered at or implements (NewFramework's error)."""


@runtime_checkable
class Plugin(Protocol):
    """Plugin: what every plugin has, its name (upstream's Name())."""

    name: str


@runtime_checkable
class FilterPlugin(Plugin, Protocol):
    """Filter: whether the pod may run on the node."""

    def filter(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> Status: ...


@runtime_checkable
class PreFilterPlugin(FilterPlugin, Protocol):
    """PreFilter, for a filter plugin: upstream's PreFilter returning Skip. When `skip_filter` is true the
    plugin's Filter would pass every node, so it is not run for this pod. (Its per-cycle state is kept in the
    snapshot's cycle_state, computed by the first Filter call.)"""

    def skip_filter(self, pod: core_pb2.Pod, snapshot: Snapshot) -> bool: ...


@runtime_checkable
class PreFilterStatusPlugin(FilterPlugin, Protocol):
    """PreFilter returning a failure: `pre_filter` looks at the pod once per cycle, before any node, and a status
    that is not OK fails the pod on every node, its reasons being the fit error's PreFilter message (upstream's
    Diagnosis.PreFilterMsg)."""

    def pre_filter(self, pod: core_pb2.Pod, snapshot: Snapshot) -> Status: ...


@runtime_checkable
class ScorePlugin(Plugin, Protocol):
    """Score, with its ScoreExtensions' NormalizeScore. A normalize must give equal raw scores equal results
    (upstream's all do): when every candidate scores alike, the cycle leaves the plugin out of the comparison."""

    def score(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> int:
        """A raw score for the node (plugins whose scores need normalising return any int)."""
        ...

    def normalize(self, pod: core_pb2.Pod, scores: dict[str, int], snapshot: Snapshot) -> dict[str, int]:
        """Scores mapped to 0..100 (identity for plugins that already score in that range)."""
        ...


@runtime_checkable
class PreScorePlugin(ScorePlugin, Protocol):
    """PreScore, for a score plugin: upstream's PreScore returning Skip. When `skip` is true the plugin would
    score every node alike (0), so it is not called for this pod at all."""

    def skip(self, pod: core_pb2.Pod, snapshot: Snapshot) -> bool: ...


@runtime_checkable
class NormalizeValuesPlugin(ScorePlugin, Protocol):
    """NormalizeScore over the scores alone: `normalize` for plugins whose normalizing reads only the scores,
    over a list in the candidates' order (no dict of node names made per cycle)."""

    def normalize_values(self, pod: core_pb2.Pod, values: list[int], snapshot: Snapshot) -> list[int]: ...


@runtime_checkable
class IdentityNormalizePlugin(ScorePlugin, Protocol):
    """A score plugin with no NormalizeScore (upstream's ScoreExtensions() returning nil): with
    `normalize_is_identity = True` its scores are final as scored, so they are summed where they are kept."""

    normalize_is_identity: bool


@runtime_checkable
class CandidateScorePlugin(ScorePlugin, Protocol):
    """A score plugin whose scores depend on which nodes are candidates (`scores_in_normalize = True`):
    `score` is not called per node; `normalized_scores` gives the candidates' normalized scores in their order,
    and `coded_normalized_scores` the same as a code per node and a table of the codes' scores."""

    scores_in_normalize: bool

    def normalized_scores(self, pod: core_pb2.Pod, nodes: Sequence[NodeInfo], snapshot: Snapshot) -> list[int]: ...

    def coded_normalized_scores(self, pod: core_pb2.Pod, nodes: Sequence[NodeInfo], snapshot: Snapshot
                                ) -> tuple[Sequence[int], list[int]]: ...


EXTENSION_POINTS: tuple[type, ...] = (
    FilterPlugin, PreFilterPlugin, PreFilterStatusPlugin, ScorePlugin, PreScorePlugin, NormalizeValuesPlugin,
    IdentityNormalizePlugin, CandidateScorePlugin,
)
"""Every extension point a plugin may implement; a plugin's public names must be hooks of those it does."""

HELPERS = "helpers"
"""The class attribute (a frozenset of names) by which a plugin declares public methods that are not hooks
(called directly by tests or other code), so the check tells them from a misspelt hook."""


def members(point: type) -> frozenset[str]:
    """The names an extension point declares, its bases' included (the hooks it brings)."""
    names: set[str] = set()
    for cls in point.__mro__:
        if cls is not Plugin and cls not in EXTENSION_POINTS:
            continue
        names.update(inspect.get_annotations(cls))
        names.update(k for k, v in cls.__dict__.items() if not k.startswith("_") and callable(v))
    return frozenset(names)


_MEMBERS = {point: members(point) for point in EXTENSION_POINTS}
_PLUGIN = members(Plugin)
_HOOKS = frozenset().union(*_MEMBERS.values())


def plugin_name(plugin: object) -> str:
    """How errors name a plugin: by its name, quoted (as upstream's %q), else by its class."""
    return f'"{plugin.name}"' if isinstance(plugin, Plugin) else type(plugin).__qualname__


def check_plugin(plugin: object) -> tuple[type, ...]:
    """The extension points the plugin implements, after checking that every public name its class defines is
    a hook of one of them (or declared among its `helpers`): a misspelt hook (`skip_filtr`), or a hook of a
    point the plugin only half implements, would otherwise never run. Instance attributes (a plugin's
    configuration, set in __init__) are not hooks and are not checked."""
    points = tuple(p for p in EXTENSION_POINTS if isinstance(plugin, p))
    helpers = frozenset(getattr(type(plugin), HELPERS, frozenset()))
    allowed = frozenset({HELPERS}).union(_PLUGIN, helpers, *(_MEMBERS[p] for p in points))
    for cls in type(plugin).__mro__:
        if cls is object:
            continue
        for attr in cls.__dict__:
            if attr.startswith("_") or attr in allowed:
                continue
            where = f"{type(plugin).__module__}.{type(plugin).__qualname__}"
            raise PluginError(f"scheduler plugin {plugin_name(plugin)} ({where}) defines {attr!r}, which is not a "
                              f"hook of the extension points it implements ({_names(points)}): "
                              f"{_hint(plugin, attr, points)}")
    return points


def _names(points: Sequence[type]) -> str:
    return ", ".join(p.__name__ for p in points) or "none"


def _hint(plugin: object, attr: str, points: Sequence[type]) -> str:
    """What the name might have been meant as."""
    owners = [p for p in EXTENSION_POINTS if attr in _MEMBERS[p] and p not in points]
    if owners:
        owner = min(owners, key=lambda p: len(_MEMBERS[p]))
        missing = sorted(m for m in _MEMBERS[owner] if not hasattr(plugin, m))
        return f"it is a hook of {owner.__name__}, which also needs {', '.join(map(repr, missing))}"
    close = difflib.get_close_matches(attr, sorted(_HOOKS), n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"rename it with a leading underscore, or list it in the class's {HELPERS!r} if it is not a hook"
