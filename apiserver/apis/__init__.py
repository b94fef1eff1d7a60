"""The kinds the apiserver serves, one package per API group as upstream's pkg/apis and pkg/registry: each kind's
strategy (`<group>/<kind>.py`), the group's validation and defaulting; `install` maps kinds to strategies."""
