"""Every registered kind has all a kind needs: a strategy with validation and defaulting, a table, client access,
discovery data and a test fixture; and a made-up kind that lacks some of it is told what, by name."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from apiserver import registry
from apiserver.apis import install
from apiserver.apis.strategy import Strategy
from apiserver.validation import FieldError
from kubemu.api import kinds
from kubemu.api.serialization import from_dict
from kubemu.cli import printers
from kubemu.client.client import Client
from kubemu.config import ClusterConfig
from kubemu.pb import core_pb2
from tests.integration.manifests import FIXTURES

pytestmark = pytest.mark.unit

_VERBS = frozenset(kinds.ALL_VERBS)
_SUBRESOURCES = frozenset({"status", "scale", "binding", "log", "exec", "attach", "portforward", "eviction",
                           "finalize", "token"})


def _missing(info: kinds.KindInfo, client: Client) -> list[str]:
    """What `info`'s kind lacks, one phrase each, saying where it goes."""
    out: list[str] = []
    strategy = install.STRATEGIES.get(info.kind)
    if strategy is None:
        out.append("no strategy (a module in apiserver/apis/<group>/ listed in apiserver/apis/install.py)")
    else:
        if strategy.info is not info:
            out.append("a strategy made for another KindInfo")
        if type(strategy).validate is Strategy.validate:
            out.append("no validation (its strategy does not override Strategy.validate)")
        if type(strategy).default is Strategy.default and not strategy.no_defaults:
            out.append("no defaulting (its strategy neither overrides Strategy.default nor says no_defaults = True)")
    if not printers.has_table(info.kind):
        out.append("no table (a row in kubemu/cli/printers.py _TABLES, or its kind in DEFAULT_TABLE_KINDS)")
    try:
        if client.resource(info.kind).info is not info:
            out.append("Client.resource gives the client of another kind")
    except kinds.UnknownKind:
        out.append("no client (Client.resource does not know it)")
    for what in ("version", "plural", "singular", "verbs"):
        if not getattr(info, what):
            out.append(f"no {what} for discovery")
    if info.api_version != (f"{info.group}/{info.version}" if info.group else info.version):
        out.append(f'apiVersion "{info.api_version}" is not group/version')
    if set(info.verbs) - _VERBS:
        out.append(f"unknown verbs {sorted(set(info.verbs) - _VERBS)}")
    if set(info.subresources) - _SUBRESOURCES:
        out.append(f"unknown subresources {sorted(set(info.subresources) - _SUBRESOURCES)}")
    fixture = FIXTURES.get(info.kind)
    if fixture is None:
        out.append("no fixture (an entry in tests/integration/manifests.py FIXTURES)")
    elif strategy is not None:
        obj = from_dict(fixture("fixture", "default"))
        if not isinstance(obj, info.message):
            out.append(f"a fixture that loads as {type(obj).__name__}")
        else:
            strategy.prepare_for_create(obj, ClusterConfig())
            errs = strategy.validate(obj)
            if errs:
                out.append(f"a fixture that does not validate: {errs[0]}")
    return out


def problems(client: Client) -> list[str]:
    found = [f"{info.kind}: {what}" for info in kinds.all_kinds() for what in _missing(info, client)]
    registered = {info.kind for info in kinds.all_kinds()}
    found += [f"{kind}: a strategy for a kind not registered in kubemu/api/kinds.py" for kind in install.STRATEGIES
              if kind not in registered]
    return found


@pytest.fixture
async def client() -> Any:
    async with Client("127.0.0.1:1") as c:  # never dialled: only the accessors are looked at
        yield c


async def test_every_kind_is_complete(client: Client) -> None:
    found = problems(client)
    assert not found, "\n".join(found)


def test_registry_names_no_kind() -> None:
    """The registry's verbs are generic: what differs by kind is in the kind's strategy."""
    source = inspect.getsource(registry)
    named = [k.kind for k in kinds.all_kinds() if f'"{k.kind}"' in source or f"'{k.kind}'" in source]
    assert not named, f"apiserver/registry.py names kinds {named}: move that behaviour into their strategies"


def test_discovery_as_upstream() -> None:
    pods, rs, ns = kinds.by_kind("Pod"), kinds.by_kind("ReplicaSet"), kinds.by_kind("Namespace")
    assert (pods.group, pods.version, pods.singular, pods.categories) == ("", "v1", "pod", ("all",))
    assert {"binding", "log", "exec", "status", "eviction"} <= set(pods.subresources)
    assert (rs.group, rs.version, rs.subresources) == ("apps", "v1", ("scale", "status"))
    assert "deletecollection" not in ns.verbs and not ns.categories
    assert kinds.by_resource("leases").group == "coordination.k8s.io"
    assert install.serving("binding") is install.for_kind("Pod")


# --- a made-up kind: what it lacks is said, by name ---

_WIDGET = kinds.KindInfo(
    "Widget", "example.kubemu.io/v1", "widgets", ("wd",), True, core_pb2.PodTemplateSpec,
)


@contextmanager
def _registered(info: kinds.KindInfo, strategy: Strategy | None = None) -> Iterator[None]:
    kinds.register(info)
    if strategy is not None:
        install.register(strategy)
    try:
        yield
    finally:
        if strategy is not None:
            install.unregister(info.kind)
        kinds.unregister(info.kind)


async def test_a_kind_with_nothing_but_its_kindinfo_is_told_all_it_lacks(client: Client) -> None:
    with _registered(_WIDGET):
        found = [p for p in problems(client) if p.startswith("Widget: ")]
        assert kinds.by_resource("wd") is _WIDGET
    assert found == [
        "Widget: no strategy (a module in apiserver/apis/<group>/ listed in apiserver/apis/install.py)",
        "Widget: no table (a row in kubemu/cli/printers.py _TABLES, or its kind in DEFAULT_TABLE_KINDS)",
        "Widget: no fixture (an entry in tests/integration/manifests.py FIXTURES)",
    ]
    # Gone again: the real kinds are untouched.
    with pytest.raises(kinds.UnknownKind):
        kinds.by_resource("wd")
    assert not problems(client)


class _ValidatedWidget(Strategy):
    def validate(self, obj: Any) -> list[FieldError]:
        return []


async def test_a_strategy_without_defaulting_is_named(client: Client) -> None:
    with _registered(_WIDGET, _ValidatedWidget(_WIDGET)):
        found = [p for p in problems(client) if p.startswith("Widget: ")]
    assert found[0] == (
        "Widget: no defaulting (its strategy neither overrides Strategy.default nor says no_defaults = True)"
    )
    assert not [p for p in found if "strategy (" in p or "validation" in p]


def test_a_kind_is_registered_once() -> None:
    with pytest.raises(ValueError, match='kind "Pod" is already registered'):
        kinds.register(kinds.by_kind("Pod"))
    clash = dataclasses.replace(_WIDGET, message=core_pb2.Pod)
    with pytest.raises(ValueError, match='kind "Widget" would share its message with "Pod"'):
        kinds.register(clash)


async def test_missing_discovery_data_is_named(client: Client) -> None:
    bare = dataclasses.replace(_WIDGET, verbs=(), subresources=("teleport",))
    with _registered(bare):
        found = [p for p in problems(client) if p.startswith("Widget: ")]
    assert "Widget: no verbs for discovery" in found
    assert "Widget: unknown subresources ['teleport']" in found


async def test_client_resource_serves_any_registered_kind(client: Client) -> None:
    assert client.resource("Pod") is client.pods
    with _registered(_WIDGET):
        widgets = client.resource("Widget")
        assert widgets.info is _WIDGET and client.resource("Widget") is widgets
    with pytest.raises(kinds.UnknownKind):
        client.resource("Widget")


def test_a_kind_without_a_table_prints_name_and_age() -> None:
    with _registered(_WIDGET):
        w = core_pb2.PodTemplateSpec()
        w.metadata.name = "w1"
        w.metadata.creation_timestamp.seconds = 1000
        text = printers.print_table([w], now=1060.0)
    assert text.splitlines() == ["NAME   AGE", "w1     60s"]
