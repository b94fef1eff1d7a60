"""DefaultIngressClass: an Ingress created without a class (neither spec.ingressClassName nor the old
kubernetes.io/ingress.class annotation) gets the default IngressClass, the one annotated
`ingressclass.kubernetes.io/is-default-class: "true"`; of several, the newest
(plugin/pkg/admission/network/defaultingressclass upstream)."""

from __future__ import annotations

import structlog

from apiserver.admission import CREATE, Attributes, Plugin
from apiserver.apis.networking.ingress import ANNOTATION_INGRESS_CLASS
from apiserver.apis.networking.ingressclass import ANNOTATION_IS_DEFAULT
from apiserver.watch import Filter
from kubemu.api import fields, labels
from kubemu.api.serialization import time_value
from kubemu.pb import networking_pb2

log = structlog.get_logger(component="apiserver")


class DefaultIngressClass(Plugin):
    name = "DefaultIngressClass"
    operations = frozenset({CREATE})

    def handles(self, a: Attributes) -> bool:
        return a.operation == CREATE and a.info.kind == "Ingress" and not a.subresource

    async def admit(self, a: Attributes) -> None:
        ing: networking_pb2.Ingress = a.obj
        if ing.spec.HasField("ingress_class_name") or ANNOTATION_INGRESS_CLASS in ing.metadata.annotations:
            return
        classes, _ = await self.registry.list("IngressClass", "", Filter(None, labels.EVERYTHING, fields.EVERYTHING))
        defaults = [c for c in classes if c.metadata.annotations.get(ANNOTATION_IS_DEFAULT) == "true"]
        if not defaults:
            return
        # The newest first; of the same second, the first name.
        defaults.sort(key=lambda c: (-time_value(c.metadata.creation_timestamp), c.metadata.name))
        ing.spec.ingress_class_name = defaults[0].metadata.name
        log.debug("admission.defaulted", plugin=self.name, object=f"{a.namespace}/{a.name}",
                  ingress_class=defaults[0].metadata.name, defaults=len(defaults))
