"""Every admission plugin, in upstream's order (AllOrderedPlugins in pkg/kubeapiserver/options/plugins.go):
NamespaceLifecycle, LimitRanger, ServiceAccount, ..., Priority, ..., DefaultStorageClass, ..., ResourceQuota last."""

from __future__ import annotations

from apiserver.admission import Plugin
from apiserver.admission.defaultingressclass import DefaultIngressClass
from apiserver.admission.defaultstorageclass import DefaultStorageClass
from apiserver.admission.limitranger import LimitRanger
from apiserver.admission.namespacelifecycle import NamespaceLifecycle
from apiserver.admission.persistentvolumeclaimresize import PersistentVolumeClaimResize
from apiserver.admission.priority import Priority
from apiserver.admission.resourcequota import ResourceQuota
from apiserver.admission.serviceaccount import ServiceAccount
from apiserver.admission.storageobjectinuseprotection import StorageObjectInUseProtection

ORDER: list[type[Plugin]] = [
    NamespaceLifecycle,
    LimitRanger,
    ServiceAccount,
    Priority,
    DefaultStorageClass,
    StorageObjectInUseProtection,
    PersistentVolumeClaimResize,
    DefaultIngressClass,
    ResourceQuota,
]
