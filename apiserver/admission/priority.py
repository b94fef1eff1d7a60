"""Priority (plugin/pkg/admission/priority upstream): a new pod's priorityClassName, or the globalDefault class when
it names none, resolved into spec.priority and spec.preemptionPolicy; an unknown class or a priority that differs
from the class's refused; and at most one PriorityClass marked globalDefault."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from apiserver import errors
from apiserver.admission import CREATE, UPDATE, Attributes, Plugin, forbidden
from apiserver.watch import Filter, make_filter

if TYPE_CHECKING:
    from apiserver.registry import Registry

DEFAULT_PRIORITY_WHEN_NO_DEFAULT_CLASS_EXISTS = 0
PREEMPT_LOWER_PRIORITY = "PreemptLowerPriority"


class Priority(Plugin):
    name = "Priority"
    operations = frozenset({CREATE, UPDATE})

    def __init__(self, registry: Registry) -> None:
        super().__init__(registry)
        self._all: Filter | None = None

    def handles(self, a: Attributes) -> bool:
        # Calls to subresources (status, binding, ...) are not looked at.
        return a.operation in self.operations and not a.subresource and a.info.kind in ("Pod", "PriorityClass")

    async def admit(self, a: Attributes) -> None:
        if a.info.kind != "Pod":
            return
        spec = a.obj.spec
        if a.operation == UPDATE:
            # Set at create; an update that leaves them out keeps them (validation refuses a change).
            old = a.old.spec
            if not spec.HasField("priority") and old.HasField("priority"):
                spec.priority = old.priority
            if not spec.HasField("preemption_policy") and old.HasField("preemption_policy"):
                spec.preemption_policy = old.preemption_policy
            return
        if spec.priority_class_name:
            pc = await self._class(a, spec.priority_class_name)
            name, priority, policy = pc.metadata.name, pc.value, pc.preemption_policy or None
        else:
            default = await self._default_class()
            if default is None:
                name, priority, policy = "", DEFAULT_PRIORITY_WHEN_NO_DEFAULT_CLASS_EXISTS, PREEMPT_LOWER_PRIORITY
            else:
                name, priority, policy = default.metadata.name, default.value, default.preemption_policy or None
        spec.priority_class_name = name
        if spec.HasField("priority") and spec.priority != priority:
            raise forbidden(a, f"the integer value of priority ({spec.priority}) must not be provided in pod "
                                     f"spec; priority admission controller computed {priority} from the given "
                                     "PriorityClass name")
        spec.priority = priority
        if policy is not None:
            if spec.HasField("preemption_policy") and spec.preemption_policy != policy:
                raise forbidden(a, f"the string value of PreemptionPolicy ({spec.preemption_policy}) must not "
                                         f"be provided in pod spec; priority admission controller computed {policy} "
                                         "from the given PriorityClass name")
            spec.preemption_policy = policy

    async def validate(self, a: Attributes) -> None:
        if a.info.kind != "PriorityClass" or not a.obj.global_default:
            return
        # Classes are written seldom: this one asks the store, not the lister, so two defaults made a moment apart
        # do not both pass.
        default = await self._default_class(fresh=True)
        if default is not None and (a.operation == CREATE or default.metadata.name != a.obj.metadata.name):
            raise forbidden(a, f"PriorityClass {default.metadata.name} is already marked as default. Only one "
                                     "default can exist")


    async def _classes(self, *, fresh: bool = False) -> dict[str, Any]:
        """Every PriorityClass by name, as upstream's lister has them (the registry's lister of the kind, which has
        seen this apiserver's own writes); from the store when `fresh`."""
        if fresh:
            if self._all is None:
                self._all = make_filter("PriorityClass", "", "", "")
            items, _ = await self.registry.list("PriorityClass", "", self._all)
        else:
            items = await self.registry.list_for_admission("PriorityClass", "")
        return {pc.metadata.name: pc for pc in items}

    async def _class(self, a: Attributes, name: str) -> Any:
        found = (await self._classes()).get(name)
        if found is not None:
            return found
        try:  # one created a moment ago that the hub has not read yet: ask the store before refusing
            return await self.registry.get("PriorityClass", "", name)
        except errors.NotFound:
            raise forbidden(a, f"no PriorityClass with name {name} was found") from None

    async def _default_class(self, *, fresh: bool = False) -> Any:
        """The class marked globalDefault; should a race have left several, the one of lowest value."""
        defaults = [pc for pc in (await self._classes(fresh=fresh)).values() if pc.global_default]
        return min(defaults, key=lambda pc: pc.value) if defaults else None
