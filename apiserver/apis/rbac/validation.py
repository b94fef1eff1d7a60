"""rbac.authorization.k8s.io/v1 validation and defaulting (pkg/apis/rbac/validation, pkg/apis/rbac/v1/defaults.go):
policy rules, aggregation rules, role references and subjects, with upstream's words."""

from __future__ import annotations

import json
from typing import Any

from apiserver.validation import (
    FieldError,
    GoValue,
    _validate_label_selector,
    invalid,
    name_is_dns_subdomain,
    name_is_path_segment,
    not_supported,
    required,
)
from kubemu.api import labels

GROUP = "rbac.authorization.k8s.io"
SUBJECT_KINDS = ("ServiceAccount", "User", "Group")


def _strings(values: Any) -> GoValue:
    """A []string bad value as the API prints it (JSON): `["/x"]`."""
    return GoValue(json.dumps(list(values), separators=(",", ":")))


def validate_policy_rule(rule: Any, namespaced: bool, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not rule.verbs:
        errs.append(required(f"{path}.verbs", "verbs must contain at least one value"))
    if rule.non_resource_urls:
        if namespaced:
            errs.append(invalid(f"{path}.nonResourceURLs", _strings(rule.non_resource_urls),
                                "namespaced rules cannot apply to non-resource URLs"))
        if rule.api_groups or rule.resources or rule.resource_names:
            errs.append(invalid(f"{path}.nonResourceURLs", _strings(rule.non_resource_urls),
                                "rules cannot apply to both regular resources and non-resource URLs"))
        return errs
    if not rule.api_groups:
        errs.append(required(f"{path}.apiGroups", "resource rules must supply at least one api group"))
    if not rule.resources:
        errs.append(required(f"{path}.resources", "resource rules must supply at least one resource"))
    return errs


def validate_rules(rules: Any, namespaced: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(rules):
        errs += validate_policy_rule(rule, namespaced, f"rules[{i}]")
    return errs


def validate_aggregation_rule(role: Any) -> list[FieldError]:
    if not role.HasField("aggregation_rule"):
        return []
    path = "aggregationRule.clusterRoleSelectors"
    selectors = role.aggregation_rule.cluster_role_selectors
    if not selectors:
        return [required(path, "at least one clusterRoleSelector required if aggregationRule is non-nil")]
    errs: list[FieldError] = []
    for i, sel in enumerate(selectors):
        errs += _validate_label_selector(sel, f"{path}[{i}]")
        try:
            labels.from_label_selector(sel)
        except labels.SelectorError:
            errs.append(invalid(f"{path}[{i}]", None, "invalid label selector."))
    return errs


def validate_role_ref(ref: Any, kinds_allowed: tuple[str, ...]) -> list[FieldError]:
    errs: list[FieldError] = []
    if ref.api_group != GROUP:
        errs.append(not_supported("roleRef.apiGroup", ref.api_group, [GROUP]))
    if ref.kind not in kinds_allowed:
        errs.append(not_supported("roleRef.kind", ref.kind, kinds_allowed))
    if not ref.name:
        errs.append(required("roleRef.name"))
    else:
        errs += [invalid("roleRef.name", ref.name, m) for m in name_is_path_segment(ref.name, False)]
    return errs


def validate_subjects(subjects: Any, namespaced: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, s in enumerate(subjects):
        path = f"subjects[{i}]"
        if not s.name:
            errs.append(required(f"{path}.name"))
        if s.kind == "ServiceAccount":
            if s.name:
                errs += [invalid(f"{path}.name", s.name, m) for m in name_is_dns_subdomain(s.name, False)]
            if s.api_group:
                errs.append(not_supported(f"{path}.apiGroup", s.api_group, [""]))
            if not namespaced and not s.namespace:
                errs.append(required(f"{path}.namespace"))
        elif s.kind in ("User", "Group"):
            if s.api_group != GROUP:
                errs.append(not_supported(f"{path}.apiGroup", s.api_group, [GROUP]))
        else:
            errs.append(not_supported(f"{path}.kind", s.kind, SUBJECT_KINDS))
    return errs


def validate_role_ref_update(new: Any, old: Any) -> list[FieldError]:
    """roleRef is immutable: a binding to another role is another binding."""
    if new.role_ref == old.role_ref:
        return []
    ref = new.role_ref
    shown = GoValue(json.dumps({"APIGroup": ref.api_group, "Kind": ref.kind, "Name": ref.name},
                               separators=(",", ":")))
    return [invalid("roleRef", shown, "cannot change roleRef")]


def default_binding(obj: Any) -> None:
    """SetDefaults_RoleBinding/ClusterRoleBinding and SetDefaults_Subject: the RBAC group for the role reference
    and for User and Group subjects."""
    if not obj.role_ref.api_group:
        obj.role_ref.api_group = GROUP
    for s in obj.subjects:
        if not s.api_group and s.kind in ("User", "Group"):
            s.api_group = GROUP
