"""NamespaceLifecycle (plugin/pkg/admission/namespace/lifecycle upstream): nothing new is created in a namespace
that does not exist or is being terminated, so the namespace controller's sweep is not outrun by new content."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from apiserver import errors
from apiserver.admission import CREATE, Attributes, Plugin, forbidden
from apiserver.storage import Store
from kubemu.api import kinds

NAMESPACE_TERMINATING_CAUSE = "NamespaceTerminating"
"""The cause type of the refusal (v1.NamespaceTerminatingCause), which clients test for."""

# Review kinds are never stored, so they may name any namespace (upstream's accessReviewResources).
_EXEMPT_KINDS = frozenset({"LocalSubjectAccessReview"})


class NamespaceLifecycle(Plugin):
    name = "NamespaceLifecycle"
    # Upstream also looks at updates, but only to say that a missing namespace is missing: an object in one is
    # missing too, and the update says so itself. Deleting content is always allowed (that is how it empties).
    operations = frozenset({CREATE})

    def handles(self, a: Attributes) -> bool:
        # Cluster-scoped objects, namespaces themselves among them, are not inside one.
        return (a.operation in self.operations and a.info.namespaced and bool(a.namespace)
                and a.info.kind not in _EXEMPT_KINDS)

    async def admit(self, a: Attributes) -> None:
        namespace = await self._namespace(a.namespace)
        if namespace.status.phase != "Terminating":
            return
        err = forbidden(a, f"unable to create new content in namespace {a.namespace} because it is being terminated")
        cause = errors.Cause(NAMESPACE_TERMINATING_CAUSE, f"namespace {a.namespace} is being terminated",
                             "metadata.namespace")
        raise errors.Forbidden(err.message, details=replace(err.details or errors.StatusDetails(), causes=(cause,)))

    async def _namespace(self, name: str) -> Any:
        """The namespace as the watch cache last saw it, as upstream's lister; else (not seen since the apiserver
        started, or gone) as stored, upstream's live lookup. Like the lister, the cache may not have seen a delete
        acknowledged a moment ago; what slips in then is swept by the namespace controller, which lists after."""
        cached = self.registry.cached
        found = cached("Namespace", Store.member("", name)) if cached is not None else None
        if found is not None:
            return self.registry.decode(kinds.by_kind("Namespace"), *found)
        try:
            return await self.registry.get("Namespace", "", name)
        except errors.NotFound:
            raise errors.new_not_found("namespaces", "", name) from None
