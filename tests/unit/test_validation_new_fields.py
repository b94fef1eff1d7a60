"""Validation of the fields the 1.35 types brought to the served kinds: volume sources, key references, envFrom,
lifecycle hooks, security contexts, DNS, host aliases, OS, resource claims, ephemeral containers.

Each expectation is upstream's exact message; the comment names the function of
pkg/apis/core/validation/validation.go (or its validation_test.go case) that produces it.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from apiserver.apis.install import default, validate
from kubemu.api.serialization import from_dict

pytestmark = pytest.mark.unit

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
}
FILE_MODE = "must be a number between 0 and 0777 (octal), both inclusive"
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def errors(spec: dict[str, Any], kind: str = "Pod") -> list[str]:
    m = copy.deepcopy(POD)
    m["spec"].update(spec)
    if kind != "Pod":
        m = {
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": m["spec"]},
            },
        }
    obj = from_dict(m)
    default(obj)
    return [str(e) for e in validate(obj)]


def container(**fields: Any) -> dict[str, Any]:
    return {"name": "c", "image": "nginx", **fields}


def volume(**source: Any) -> dict[str, Any]:
    return {"volumes": [{"name": "v", **source}]}


# ---- (a) volumes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["configMap", "secret", "projected", "persistentVolumeClaim", "downwardAPI", "image", "csi", "ephemeral"],
)
def test_every_source_counts_as_a_volume_type(name: str) -> None:
    # validateVolumeSource: a volume with only this source is neither "must specify a volume type" nor defaulted
    # into a second (emptyDir) source (SetDefaults_Volume only fills a volume with no source at all).
    errs = errors(volume(**{name: {}}))
    assert not any("volume type" in e for e in errs), errs


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # validateVolumeSource: every source after the first, in upstream's order (secret before configMap), is
        # refused on its own path.
        (
            volume(configMap={"name": "cm"}, secret={"secretName": "s"}),
            ["spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type"],
        ),
        # ... with upstream's misspelt path for downwardAPI ("downwarAPI").
        (
            volume(emptyDir={}, downwardAPI={}),
            ["spec.volumes[0].downwarAPI: Forbidden: may not specify more than 1 volume type"],
        ),
        # validateConfigMapVolumeSource / validateKeyToPath.
        (
            volume(configMap={"name": "", "defaultMode": 0o1000, "items": [{"key": "", "path": "/abs", "mode": -1}]}),
            [
                "spec.volumes[0].configMap.name: Required value",
                "spec.volumes[0].configMap.defaultMode: Invalid value: 512: " + FILE_MODE,
                "spec.volumes[0].configMap.items[0].key: Required value",
                'spec.volumes[0].configMap.items[0].path: Invalid value: "/abs": must be a relative path',
                "spec.volumes[0].configMap.items[0].mode: Invalid value: -1: " + FILE_MODE,
            ],
        ),
        # ValidateLocalNonReservedPath: "..", then the "..x" prefix.
        (
            volume(configMap={"name": "cm", "items": [{"key": "k", "path": "a/../b"}, {"key": "k", "path": "..x"}]}),
            [
                "spec.volumes[0].configMap.items[0].path: Invalid value: \"a/../b\": must not contain '..'",
                "spec.volumes[0].configMap.items[1].path: Invalid value: \"..x\": must not start with '..'",
            ],
        ),
        # validateSecretVolumeSource.
        (
            volume(secret={"defaultMode": 0o1000}),
            [
                "spec.volumes[0].secret.secretName: Required value",
                "spec.volumes[0].secret.defaultMode: Invalid value: 512: " + FILE_MODE,
            ],
        ),
        # validatePersistentClaimVolumeSource.
        (volume(persistentVolumeClaim={}), ["spec.volumes[0].persistentVolumeClaim.claimName: Required value"]),
        # validateHostPathVolumeSource / validateHostPathType.
        (
            volume(hostPath={"path": "/x", "type": "Nope"}),
            [
                'spec.volumes[0].hostPath.type: Unsupported value: "Nope": supported values: "", "BlockDevice", '
                '"CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"'
            ],
        ),
        (
            volume(hostPath={"path": "/a/../b"}),
            ["spec.volumes[0].hostPath.path: Invalid value: \"/a/../b\": must not contain '..'"],
        ),
        # validateDownwardAPIVolumeFile reports on the source's path, not the item's.
        (
            volume(downwardAPI={"items": [{"path": "p"}]}),
            ["spec.volumes[0].downwardAPI: Required value: one of fieldRef and resourceFieldRef is required"],
        ),
        (
            volume(downwardAPI={"items": [{"path": "p", "fieldRef": {"apiVersion": "v1", "fieldPath": "spec.x"}}]}),
            [
                'spec.volumes[0].downwardAPI.fieldRef.fieldPath: Unsupported value: "spec.x": supported values: '
                '"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"'
            ],
        ),
        (
            volume(downwardAPI={"items": [{"path": "p", "resourceFieldRef": {"resource": "limits.cpu"}}]}),
            ["spec.volumes[0].downwardAPI.resourceFieldRef.containerName: Required value"],
        ),
        # validateContainerResourceDivisor.
        (
            volume(
                downwardAPI={
                    "items": [
                        {
                            "path": "p",
                            "resourceFieldRef": {"containerName": "c", "resource": "limits.cpu", "divisor": "2"},
                        }
                    ]
                }
            ),
            [
                'spec.volumes[0].downwardAPI.resourceFieldRef.divisor: Invalid value: "limits.cpu": only '
                "divisor's values 1m and 1 are supported with the cpu resource"
            ],
        ),
        # validateProjectionSources.
        (
            volume(projected={"sources": [{"secret": {"name": "s"}, "configMap": {"name": "c"}}]}),
            ["spec.volumes[0].projected.sources[0]: Forbidden: may not specify more than 1 volume type per source"],
        ),
        (
            volume(
                projected={
                    "sources": [
                        {"secret": {"name": "s", "items": [{"key": "a", "path": "p"}]}},
                        {"configMap": {"name": "c", "items": [{"key": "b", "path": "p"}]}},
                    ]
                }
            ),
            ['spec.volumes[0].projected: Invalid value: "c": conflicting duplicate paths'],
        ),
        (
            volume(projected={"sources": [{"serviceAccountToken": {"expirationSeconds": 60, "path": "t"}}]}),
            [
                "spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds: Invalid value: 60: "
                "may not specify a duration less than 10 minutes"
            ],
        ),
        (
            volume(projected={"sources": [{"clusterTrustBundle": {"path": "b"}}]}),
            [
                "spec.volumes[0].projected.sources[0].clusterTrustBundle: Required value: either name or "
                "signerName must be specified"
            ],
        ),
        # validateImageVolumeSource: reference required; the pull policy was defaulted.
        (
            volume(image={"pullPolicy": "Sometimes"}),
            [
                "spec.volumes[0].image.reference: Required value",
                'spec.volumes[0].image.pullPolicy: Unsupported value: "Sometimes": supported values: "Always", '
                '"IfNotPresent", "Never"',
            ],
        ),
        # ValidateCSIDriverName.
        (
            volume(csi={}),
            [
                "spec.volumes[0].csi.driver: Required value",
                'spec.volumes[0].csi.driver: Invalid value: "": ' + SUBDOMAIN_MSG,
            ],
        ),
        # validateEphemeralVolumeSource / ValidatePersistentVolumeClaimSpec / ValidateTemplateObjectMeta.
        (volume(ephemeral={}), ["spec.volumes[0].ephemeral.volumeClaimTemplate: Required value"]),
        (
            volume(ephemeral={"volumeClaimTemplate": {"metadata": {"name": "x"}, "spec": {}}}),
            [
                "spec.volumes[0].ephemeral.volumeClaimTemplate.metadata.name: Forbidden: cannot be set",
                "spec.volumes[0].ephemeral.volumeClaimTemplate.spec.accessModes: Required value: at least 1 access "
                "mode is required",
                "spec.volumes[0].ephemeral.volumeClaimTemplate.spec.resources[storage]: Required value",
            ],
        ),
        # validateNFSVolumeSource.
        (
            volume(nfs={"server": "s", "path": "rel"}),
            ['spec.volumes[0].nfs.path: Invalid value: "rel": must be an absolute path'],
        ),
        # validateGCEPersistentDiskVolumeSource reports on "persistentDisk".
        (volume(gcePersistentDisk={}), ["spec.volumes[0].persistentDisk.pdName: Required value"]),
        # validateFCVolumeSource.
        (
            volume(fc={}),
            ["spec.volumes[0].fc.targetWWNs: Required value: must specify either targetWWNs or wwids, but not both"],
        ),
        # validateISCSIVolumeSource.
        (
            volume(iscsi={"targetPortal": "t", "iqn": "bad", "lun": 300}),
            [
                'spec.volumes[0].iscsi.iqn: Invalid value: "bad": must be valid format starting with iqn, eui, or naa',
                "spec.volumes[0].iscsi.lun: Invalid value: 300: must be between 0 and 255, inclusive",
            ],
        ),
        # validateFlockerVolumeSource.
        (
            volume(flocker={}),
            ["spec.volumes[0].flocker: Required value: one of datasetName and datasetUUID is required"],
        ),
    ],
)
def test_volume_sources(spec: dict[str, Any], expected: list[str]) -> None:
    assert errors(spec) == expected


def test_valid_sources_pass() -> None:
    # TestValidateVolumes "valid ..." cases: one of each modern source, fully specified.
    spec = {
        "volumes": [
            {"name": "a", "configMap": {"name": "cm", "defaultMode": 0o644, "items": [{"key": "k", "path": "p"}]}},
            {"name": "b", "secret": {"secretName": "s", "defaultMode": 0o400}},
            {"name": "c", "persistentVolumeClaim": {"claimName": "claim"}},
            {"name": "d", "downwardAPI": {"items": [{"path": "l", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
            {"name": "e", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}},
            {"name": "f", "image": {"reference": "registry.example/data:1"}},
            {"name": "g", "csi": {"driver": "csi.example.com"}},
            {
                "name": "h",
                "ephemeral": {
                    "volumeClaimTemplate": {
                        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
                    }
                },
            },
        ],
        "serviceAccountName": "default",
    }
    assert errors(spec) == []


# ---- (b) env ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        # validateConfigMapKeySelector: key required; the name is checked as a secret name.
        (
            [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": ""}}}],
            ["spec.containers[0].env[0].valueFrom.configMapKeyRef.key: Required value"],
        ),
        (
            [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "Bad", "key": "k"}}}],
            ['spec.containers[0].env[0].valueFrom.secretKeyRef.name: Invalid value: "Bad": ' + SUBDOMAIN_MSG],
        ),
        # IsConfigMapKey.
        (
            [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "a b"}}}],
            [
                'spec.containers[0].env[0].valueFrom.configMapKeyRef.key: Invalid value: "a b": a valid config key '
                "must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
                "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
            ],
        ),
        (
            [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": ".."}}}],
            ["spec.containers[0].env[0].valueFrom.secretKeyRef.key: Invalid value: \"..\": must not be '..'"],
        ),
        # validateEnvVarValueFrom: key references count as sources.
        (
            [
                {
                    "name": "A",
                    "valueFrom": {
                        "configMapKeyRef": {"name": "cm", "key": "k"},
                        "secretKeyRef": {"name": "s", "key": "k"},
                    },
                }
            ],
            [
                'spec.containers[0].env[0].valueFrom: Invalid value: "": may not have more than one field specified '
                "at a time"
            ],
        ),
        (
            [{"name": "A", "value": "x", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
            ['spec.containers[0].env[0].valueFrom: Invalid value: "": may not be specified when `value` is not empty'],
        ),
    ],
)
def test_env_key_refs(env: list[dict[str, Any]], expected: list[str]) -> None:
    assert errors({"containers": [container(env=env)]}) == expected


@pytest.mark.parametrize(
    ("env_from", "expected"),
    [
        # ValidateEnvFrom: exactly one source, reported on the list's path.
        ([{}], ['spec.containers[0].envFrom: Invalid value: "": must specify one of: `configMapRef` or `secretRef`']),
        (
            [{"configMapRef": {"name": "a"}, "secretRef": {"name": "b"}}],
            ['spec.containers[0].envFrom: Invalid value: "": may not have more than one field specified at a time'],
        ),
        # validateConfigMapEnvSource / validateSecretEnvSource.
        ([{"configMapRef": {}}], ["spec.containers[0].envFrom[0].configMapRef.name: Required value"]),
        (
            [{"secretRef": {"name": "Bad"}}],
            ['spec.containers[0].envFrom[0].secretRef.name: Invalid value: "Bad": ' + SUBDOMAIN_MSG],
        ),
        # IsRelaxedEnvVarName on the prefix.
        (
            [{"prefix": "A=", "configMapRef": {"name": "a"}}],
            [
                'spec.containers[0].envFrom[0].prefix: Invalid value: "A=": a valid environment variable name must '
                "consist only of printable ASCII characters other than '='"
            ],
        ),
        ([{"prefix": "P_", "configMapRef": {"name": "a"}}], []),
    ],
)
def test_env_from(env_from: list[dict[str, Any]], expected: list[str]) -> None:
    assert errors({"containers": [container(envFrom=env_from)]}) == expected


# ---- (c) lifecycle ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lifecycle", "expected"),
    [
        # validateHandler: one handler kind.
        ({"preStop": {}}, ["spec.containers[0].lifecycle.preStop: Required value: must specify a handler type"]),
        (
            {"postStart": {"exec": {"command": ["x"]}, "sleep": {"seconds": 1}}},
            ["spec.containers[0].lifecycle.postStart.sleep: Forbidden: may not specify more than 1 handler type"],
        ),
        ({"postStart": {"exec": {}}}, ["spec.containers[0].lifecycle.postStart.exec.command: Required value"]),
        (
            {"preStop": {"httpGet": {"port": 0}}},
            # The path and scheme are defaulted (SetDefaults_HTTPGetAction).
            [
                "spec.containers[0].lifecycle.preStop.httpGet.port: Invalid value: 0: must be between 1 and 65535, "
                "inclusive",
            ],
        ),
        # validateSleepAction with PodLifecycleSleepActionAllowZero on (defaulted grace period 30).
        (
            {"preStop": {"sleep": {"seconds": 31}}},
            [
                "spec.containers[0].lifecycle.preStop.sleep: Invalid value: 31: must be non-negative and less than "
                "terminationGracePeriodSeconds (30)"
            ],
        ),
        ({"preStop": {"sleep": {"seconds": 0}}}, []),
        ({"preStop": {"tcpSocket": {"port": "http"}}}, []),
    ],
)
def test_lifecycle(lifecycle: dict[str, Any], expected: list[str]) -> None:
    assert errors({"containers": [container(lifecycle=lifecycle)]}) == expected


def test_lifecycle_forbidden_on_plain_init_containers() -> None:
    # validateInitContainers: lifecycle only on restartable (sidecar) init containers.
    spec = {"initContainers": [container(name="i", lifecycle={"preStop": {"exec": {"command": ["x"]}}})]}
    assert errors(spec) == [
        "spec.initContainers[0].lifecycle: Forbidden: may not be set for init containers without restartPolicy=Always"
    ]
    spec["initContainers"][0]["restartPolicy"] = "Always"
    assert errors(spec) == []


# ---- (d) security contexts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sc", "expected"),
    [
        # validateSeccompProfileField / validateSeccompProfileType.
        (
            {"seccompProfile": {}},
            [
                "spec.containers[0].securityContext.seccompProfile.type: Required value: type is required when "
                "seccompProfile is set"
            ],
        ),
        (
            {"seccompProfile": {"type": "Localhost"}},
            [
                "spec.containers[0].securityContext.seccompProfile.localhostProfile: Required value: must be set when "
                "seccomp type is Localhost"
            ],
        ),
        (
            {"seccompProfile": {"type": "Other"}},
            [
                'spec.containers[0].securityContext.seccompProfile.type: Unsupported value: "Other": supported values: '
                '"Localhost", "RuntimeDefault", "Unconfined"'
            ],
        ),
        # ValidateAppArmorProfileField.
        (
            {"appArmorProfile": {"type": "Localhost"}},
            [
                "spec.containers[0].securityContext.appArmorProfile.localhostProfile: Required value: must be set when "
                "AppArmor type is Localhost"
            ],
        ),
        (
            {"appArmorProfile": {"type": "RuntimeDefault", "localhostProfile": "p"}},
            [
                'spec.containers[0].securityContext.appArmorProfile.localhostProfile: Invalid value: "p": can only be '
                "set when AppArmor type is Localhost"
            ],
        ),
        # ValidateSecurityContext: procMount.
        (
            {"procMount": "Weird"},
            [
                'spec.containers[0].securityContext.procMount: Unsupported value: "Weird": supported values: '
                '"Default", "Unmasked"'
            ],
        ),
        (
            {"procMount": "Unmasked"},
            [
                'spec.containers[0].securityContext.procMount: Invalid value: "Unmasked": `hostUsers` must be false to '
                "use `Unmasked`"
            ],
        ),
        ({"capabilities": {"add": ["NET_ADMIN"]}, "windowsOptions": {"runAsUserName": "u"}}, []),
    ],
)
def test_container_security_context(sc: dict[str, Any], expected: list[str]) -> None:
    assert errors({"containers": [container(securityContext=sc)]}) == expected


def test_pod_security_context_extras() -> None:
    # validatePodSpecSecurityContext: fsGroupChangePolicy and sysctls.
    spec = {"securityContext": {"fsGroupChangePolicy": "Sometimes", "sysctls": [{"name": "Bad!"}]}}
    assert errors(spec) == [
        'spec.securityContext.sysctls[0].name: Invalid value: "Bad!": must have at most 253 characters and match '
        "regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
        'spec.securityContext.fsGroupChangePolicy: Unsupported value: "Sometimes": supported values: "Always", '
        '"OnRootMismatch"',
    ]


# ---- (e) pod-level fields -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # validatePodDNSConfig.
        ({"dnsPolicy": "None"}, ["spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"]),
        (
            {"dnsPolicy": "None", "dnsConfig": {}},
            [
                "spec.dnsConfig.nameservers: Required value: must provide at least one DNS nameserver when "
                "`dnsPolicy` is None"
            ],
        ),
        (
            {"dnsConfig": {"nameservers": ["1.1.1.1", "bad"], "options": [{"value": "1"}]}},
            [
                'spec.dnsConfig.nameservers[1]: Invalid value: "bad": must be a valid IP address, (e.g. 10.9.8.7 or '
                "2001:db8::ffff)",
                "spec.dnsConfig.options[0]: Required value: must not be empty",
            ],
        ),
        # ValidateHostAliases.
        (
            {"hostAliases": [{"ip": "999.0.0.1", "hostnames": ["Bad"]}]},
            [
                'spec.hostAliases[0].ip: Invalid value: "999.0.0.1": must be a valid IP address, (e.g. 10.9.8.7 or '
                "2001:db8::ffff)",
                'spec.hostAliases[0].hostnames[0]: Invalid value: "Bad": ' + SUBDOMAIN_MSG,
            ],
        ),
        # validateReadinessGates.
        (
            {"readinessGates": [{"conditionType": "bad/key/x"}]},
            [
                'spec.readinessGates[0].conditionType: Invalid value: "bad/key/x": a qualified name must consist of '
                "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
                "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. "
                "'example.com/MyName')"
            ],
        ),
        # validateOS / validateLinux.
        ({"os": {"name": "plan9"}}, ['spec.os: Unsupported value: "plan9": supported values: "linux", "windows"']),
        (
            {"os": {"name": "linux"}, "securityContext": {"windowsOptions": {"runAsUserName": "u"}}},
            ["spec.securityContext.windowsOptions: Forbidden: windows options cannot be set for a linux pod"],
        ),
        # validateResizePolicy.
        (
            {
                "restartPolicy": "Never",
                "containers": [container(resizePolicy=[{"resourceName": "gpu", "restartPolicy": "RestartContainer"}])],
            },
            [
                'spec.containers[0].resizePolicy: Unsupported value: "gpu": supported values: "cpu", "memory"',
                "spec.containers[0].resizePolicy: Invalid value: \"RestartContainer\": must be 'NotRequired' when "
                "`restartPolicy` is 'Never'",
            ],
        ),
        # validateResourceClaimNames / validatePodResourceClaim.
        (
            {"containers": [container(resources={"claims": [{"name": "gpu"}]})]},
            [
                'spec.containers[0].resources.claims[0]: Not found: "gpu": must be one of the names in '
                "pod.spec.resourceClaims which is empty"
            ],
        ),
        (
            {"resourceClaims": [{"name": "gpu"}]},
            [
                'spec.resourceClaims[0]: Invalid value: core.PodResourceClaim{Name:"gpu", ...}: must specify one '
                "of: `resourceClaimName`, `resourceClaimTemplateName`"
            ],
        ),
        # validatePodResources.
        (
            {"resources": {"claims": [{"name": "x"}]}},
            ["spec.resources.claims: Forbidden: claims cannot be set for Resources at pod-level"],
        ),
    ],
)
def test_pod_level_fields(spec: dict[str, Any], expected: list[str]) -> None:
    assert errors(spec) == expected


def test_pods_are_created_without_ephemeral_containers() -> None:
    # ValidatePodCreate: they come through the ephemeralcontainers subresource only.
    debug = {"name": "debug", "image": "busybox", "terminationMessagePolicy": "File", "imagePullPolicy": "Always"}
    assert errors({"ephemeralContainers": [debug]}) == ["spec.ephemeralContainers: Forbidden: cannot be set on create"]
    # validateEphemeralContainers: the fields an ephemeral container may not set.
    errs = errors({"ephemeralContainers": [{**debug, "ports": [{"containerPort": 80}]}]})
    assert "spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container" in errs


def test_templates_refuse_ephemeral_containers() -> None:
    # ValidatePodTemplateSpec.
    errs = errors({"ephemeralContainers": [{"name": "debug", "image": "busybox"}]}, kind="ReplicaSet")
    assert "spec.template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template" in errs


# ---- (f) Job ------------------------------------------------------------------------------------------------


def job_errors(**spec: Any) -> list[str]:
    body: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "pi"}},
        "manualSelector": True,
        "template": {
            "metadata": {"labels": {"app": "pi"}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "perl"}]},
        },
    }
    body.update(spec)
    job = from_dict(
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "default"}, "spec": body}
    )
    default(job)
    return [str(e) for e in validate(job)]


INDEXED: dict[str, Any] = {"completionMode": "Indexed", "completions": 4}
ACTIONS = '["Count" "FailIndex" "FailJob" "Ignore"]'


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # validateJobSpec: per-index backoff needs Indexed mode; maxFailedIndexes needs backoffLimitPerIndex.
        (
            {"backoffLimitPerIndex": 1},
            ["spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode"],
        ),
        (
            {**INDEXED, "maxFailedIndexes": 5},
            [
                "spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified",
                "spec.maxFailedIndexes: Invalid value: 5: must be less than or equal to completions",
            ],
        ),
        (
            {**INDEXED, "backoffLimitPerIndex": -1},
            ["spec.backoffLimitPerIndex: Invalid value: -1: " + "must be greater than or equal to 0"],
        ),
        # IsDomainPrefixedPath on managedBy.
        (
            {"managedBy": "nope"},
            ['spec.managedBy: Invalid value: "nope": must be a domain-prefixed path (such as "acme.io/foo")'],
        ),
        # validatePodFailurePolicyRule.
        (
            {"podFailurePolicy": {"rules": [{}]}},
            [
                f"spec.podFailurePolicy.rules[0].action: Required value: valid values: {ACTIONS}",
                "spec.podFailurePolicy.rules[0]: Invalid value: specifying one of OnExitCodes and OnPodConditions is "
                "required",
            ],
        ),
        (
            {"podFailurePolicy": {"rules": [{"action": "FailIndex", "onPodConditions": [{"type": "X"}]}]}},
            [
                'spec.podFailurePolicy.rules[0].action: Invalid value: "FailIndex": requires the backoffLimitPerIndex '
                "to be set",
                'spec.podFailurePolicy.rules[0].onPodConditions[0].status: Required value: valid values: ["False" '
                '"True" "Unknown"]',
            ],
        ),
        # validatePodFailurePolicyRuleOnExitCodes.
        (
            {
                "podFailurePolicy": {
                    "rules": [
                        {"action": "FailJob", "onExitCodes": {"containerName": "x", "operator": "In", "values": [2, 0]}}
                    ]
                }
            },
            [
                'spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: "x": must be one of the '
                "container or initContainer names in the pod template",
                "spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Invalid value: 0: must not be 0 for the In "
                "operator",
                "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{2, 0}: must be ordered",
            ],
        ),
        # validateJobSpec: a pod failure policy needs restartPolicy Never.
        (
            {
                "podFailurePolicy": {"rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [1]}}]},
                "template": {
                    "metadata": {"labels": {"app": "pi"}},
                    "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "perl"}]},
                },
            },
            [
                'spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when '
                "podFailurePolicy is specified"
            ],
        ),
        # validatePodReplacementPolicy.
        (
            {
                "podFailurePolicy": {"rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [1]}}]},
                "podReplacementPolicy": "TerminatingOrFailed",
            },
            ['spec.podReplacementPolicy: Unsupported value: "TerminatingOrFailed": supported values: "Failed"'],
        ),
        # validateSuccessPolicy / validateIndexesFormat.
        (
            {"successPolicy": {"rules": [{"succeededCount": 1}]}},
            ["spec.successPolicy: Invalid value: batch.SuccessPolicy{...}: requires indexed completion mode"],
        ),
        (
            {**INDEXED, "successPolicy": {"rules": [{"succeededIndexes": "0-5", "succeededCount": 5}]}},
            [
                'spec.successPolicy.rules[0].succeededIndexes: Invalid value: "0-5": error parsing succeededIndexes: '
                'too large index: "5"',
                "spec.successPolicy.rules[0].succeededCount: Invalid value: 5: must be less than or equal to 4 (the "
                "number of specified completions)",
                "spec.successPolicy.rules[0].succeededCount: Invalid value: 5: must be less than or equal to 0 (the "
                "number of indexes in the specified succeededIndexes field)",
            ],
        ),
        (
            {**INDEXED, "successPolicy": {}},
            [
                "spec.successPolicy.rules: Required value: at least one rules must be specified when the successPolicy "
                "is specified"
            ],
        ),
        (
            {
                **INDEXED,
                "backoffLimitPerIndex": 1,
                "maxFailedIndexes": 2,
                "successPolicy": {"rules": [{"succeededIndexes": "0-2", "succeededCount": 2}]},
                "podFailurePolicy": {
                    "rules": [{"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [1]}}]
                },
                "managedBy": "kubernetes.io/job-controller",
            },
            [],
        ),
    ],
)
def test_job_spec(spec: dict[str, Any], expected: list[str]) -> None:
    assert job_errors(**spec) == expected
