"""The cluster config: upstream defaults, the fast profile, and clear errors for a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubemu import config as cfg

pytestmark = pytest.mark.unit


def test_defaults_are_upstreams() -> None:
    c = cfg.profile("default")
    assert c.node.lease_duration_seconds == 40
    assert c.node.lease_renew_interval_seconds == 10
    assert c.node.node_monitor_grace_period_seconds == 50
    assert c.pod.default_toleration_seconds == 300
    assert c.pod.crash_loop_backoff_max_seconds == 300
    assert c.pod.probe_period_seconds == 10


def test_fast_profile_divides_node_timings_but_not_api_defaults() -> None:
    fast = cfg.profile("fast")
    assert fast.node.node_monitor_grace_period_seconds == 5
    assert fast.pod.crash_loop_backoff_initial_seconds == 1
    assert fast.pod.default_toleration_seconds == 300  # an API default users see in their pods


def test_file_overrides_profile(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("profile: fast\nstore:\n  watch_history: 50\nnode:\n  lease_duration_seconds: 8\n")
    c = cfg.load(f)
    assert (c.profile, c.store.watch_history, c.node.lease_duration_seconds) == ("fast", 50, 8.0)
    assert cfg.load(f) == cfg.load(f)
    assert "watch_history: 50" in cfg.dump(c)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("node:\n  lease_duraton_seconds: 3\n", "node.lease_duraton_seconds: unknown field"),
        ("store:\n  watch_history: lots\n", "store.watch_history: expected int, got 'lots'"),
        ("profile: slow\n", 'unknown profile "slow"'),
        ("- a\n", "expected a mapping at the top"),
        ("node: [\n", "c.yaml"),
    ],
)
def test_bad_files_name_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(cfg.ConfigError) as exc:
        cfg.load(f)
    assert message in str(exc.value)
