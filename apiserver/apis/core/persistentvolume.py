"""The PersistentVolume strategy: defaults (Retain, Filesystem), a new volume is Pending, its source, volumeMode and
node affinity stay, and its phase records when it last changed (pkg/registry/core/persistentvolume/strategy.go)."""

from __future__ import annotations

import time
from typing import Any

from apiserver.apis.core.pvvalidation import default_pv, validate_pv, validate_pv_update
from apiserver.apis.strategy import Strategy
from apiserver.validation import FieldError, name_is_dns_subdomain, validate_object_meta
from kubemu.api import kinds
from kubemu.api.serialization import set_time
from kubemu.config import ClusterConfig


class PersistentVolumeStrategy(Strategy):
    def default(self, obj: Any, config: ClusterConfig) -> None:
        default_pv(obj)

    def prepare_for_create(self, obj: Any, config: ClusterConfig) -> None:
        obj.ClearField("status")
        self.default(obj, config)
        obj.status.phase = "Pending"
        obj.status.last_phase_transition_time.CopyFrom(obj.metadata.creation_timestamp)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_object_meta(obj.metadata, False, name_is_dns_subdomain) + validate_pv(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return super().validate_update(new, old) + validate_pv_update(new, old)

    def prepare_for_status_update(self, incoming: Any, old: Any) -> Any:
        """lastPhaseTransitionTime: kept while the phase stays and the client sends none; stamped now when the phase
        changes and the client sent none or the old one; else the client's."""
        new = super().prepare_for_status_update(incoming, old)
        st, before = new.status, old.status
        sent = st.HasField("last_phase_transition_time")
        if st.phase == before.phase and not sent:
            if before.HasField("last_phase_transition_time"):
                st.last_phase_transition_time.CopyFrom(before.last_phase_transition_time)
        elif st.phase != before.phase and (
                not sent or st.last_phase_transition_time == before.last_phase_transition_time):
            set_time(st.last_phase_transition_time, float(int(time.time())))
        return new


STRATEGY = PersistentVolumeStrategy(kinds.by_kind("PersistentVolume"))
