"""Every admission plugin, in upstream's order (AllOrderedPlugins in pkg/kubeapiserver/options/plugins.go):
NamespaceLifecycle, LimitRanger, ServiceAccount, ..., Priority, ..., DefaultStorageClass, ..., ResourceQuota last."""

from __future__ import annotations

from apiserver.admission import Plugin
from apiserver.admission.limitranger import LimitRanger
from apiserver.admission.namespacelifecycle import NamespaceLifecycle
from apiserver.admission.priority import Priority
from apiserver.admission.resourcequota import ResourceQuota
from apiserver.admission.serviceaccount import ServiceAccount

ORDER: list[type[Plugin]] = [
    NamespaceLifecycle,
    LimitRanger,
    ServiceAccount,
    Priority,
    ResourceQuota,
]
