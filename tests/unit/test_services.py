"""Services without processes: ValidateService's messages and the defaults, the allocators' scan order, the kubelet's
service environment variables (envvars.FromServices), the tables, and wget/curl/nslookup against a made-up network."""

from __future__ import annotations

import random

import pytest

from apiserver.apis.core.service import default_service, validate_service, validate_service_update
from apiserver.apis.core.serviceallocator import _scan, _static_band, parse_port_range
from kubelet.runtime.fs import ContainerFS, image_root
from kubelet.runtime.net import ConnectError
from kubelet.runtime.shell import ShellContext, run_command
from kubelet.services import service_env
from kubemu.cli import printers
from kubemu.pb import core_pb2, discovery_pb2

pytestmark = pytest.mark.unit


def svc(name: str = "web", **spec: object) -> core_pb2.Service:
    s = core_pb2.Service()
    s.metadata.name = name
    s.metadata.namespace = "default"
    for k, v in spec.items():
        setattr(s.spec, k, v)
    return s


def messages(s: core_pb2.Service) -> list[str]:
    default_service(s)
    return [str(e) for e in validate_service(s)]


def test_defaults() -> None:
    s = svc(type="LoadBalancer")
    s.spec.ports.add(port=80)
    default_service(s)
    assert s.spec.session_affinity == "None" and s.spec.external_traffic_policy == "Cluster"
    assert s.spec.internal_traffic_policy == "Cluster" and s.spec.allocate_load_balancer_node_ports
    assert s.spec.ports[0].protocol == "TCP" and s.spec.ports[0].target_port.int_val == 80
    ext = svc(type="ExternalName", external_name="x.example.com")
    default_service(ext)
    assert not ext.spec.HasField("internal_traffic_policy") and not ext.spec.HasField("external_traffic_policy")


def test_validation_messages_are_upstreams() -> None:
    s = svc()
    s.spec.ports.add(port=70000, name="a")
    s.spec.ports.add(port=80, name="a", protocol="XYZ").target_port.str_val = "bad_name"
    assert messages(s) == [
        "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
        "spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        'spec.ports[1].name: Duplicate value: "a"',
        'spec.ports[1].protocol: Unsupported value: "XYZ": supported values: "SCTP", "TCP", "UDP"',
        'spec.ports[1].targetPort: Invalid value: "bad_name": must contain only alpha-numeric characters (a-z, '
        "0-9), and hyphens (-)",
    ]
    assert messages(svc()) == ["spec.ports: Required value"]
    assert messages(svc(type="Bar", session_affinity="Foo", cluster_ip="None")) == [
        'spec.sessionAffinity: Unsupported value: "Foo": supported values: "ClientIP", "None"',
        'spec.type: Unsupported value: "Bar": supported values: "ClusterIP", "ExternalName", "LoadBalancer", '
        '"NodePort"',
    ]
    np = svc(type="NodePort", cluster_ip="None")
    np.spec.ports.add(port=80)
    assert "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services" in messages(np)
    ext = svc(type="ExternalName")
    assert messages(ext) == ["spec.externalName: Required value"]


def test_cluster_ip_is_immutable() -> None:
    old, new = svc(cluster_ip="10.96.0.5"), svc(cluster_ip="10.96.0.6")
    for s in (old, new):
        s.spec.ports.add(port=80)
        default_service(s)
    assert [str(e) for e in validate_service_update(new, old)] == [
        'spec.clusterIPs[0]: Invalid value: ["10.96.0.6"]: may not change once set']
    new.spec.type = "ExternalName"
    assert validate_service_update(new, old) == []


def test_scan_tries_the_upper_band_first_from_a_random_offset() -> None:
    order = list(_scan(1, 100, _static_band(100, 256), random.Random(3)))
    assert sorted(order) == list(range(1, 101))
    assert set(order[:84]) == set(range(17, 101)) and set(order[84:]) == set(range(1, 17))
    starts = {next(_scan(1, 100000, 256, random.Random(seed))) for seed in range(20)}
    assert len(starts) == 20  # a random start: a just-freed value is rarely the next one given
    assert parse_port_range("30000-32767") == (30000, 32767)
    with pytest.raises(ValueError, match='invalid port range "5-1"'):
        parse_port_range("5-1")


def test_service_environment_variables() -> None:
    db = svc("my-db", cluster_ip="10.96.0.20")
    db.spec.ports.add(port=5432, name="sql", protocol="TCP")
    db.spec.ports.add(port=53, name="dns-udp", protocol="UDP")
    headless = svc("h", cluster_ip="None")
    headless.spec.ports.add(port=1)
    assert service_env([db, headless]) == {
        "MY_DB_SERVICE_HOST": "10.96.0.20",
        "MY_DB_SERVICE_PORT": "5432",
        "MY_DB_SERVICE_PORT_SQL": "5432",
        "MY_DB_SERVICE_PORT_DNS_UDP": "53",
        "MY_DB_PORT": "tcp://10.96.0.20:5432",
        "MY_DB_PORT_5432_TCP": "tcp://10.96.0.20:5432",
        "MY_DB_PORT_5432_TCP_PROTO": "tcp",
        "MY_DB_PORT_5432_TCP_PORT": "5432",
        "MY_DB_PORT_5432_TCP_ADDR": "10.96.0.20",
        "MY_DB_PORT_53_UDP": "udp://10.96.0.20:53",
        "MY_DB_PORT_53_UDP_PROTO": "udp",
        "MY_DB_PORT_53_UDP_PORT": "53",
        "MY_DB_PORT_53_UDP_ADDR": "10.96.0.20",
    }


def test_tables() -> None:
    s = svc(type="NodePort", cluster_ip="10.96.0.20")
    s.spec.ports.add(port=80, node_port=31000, protocol="TCP")
    s.spec.ports.add(port=53, protocol="UDP")
    s.spec.selector["app"] = "web"
    _, rows = printers.table("Service", [s], now=0)
    assert rows[0][:5] == ["web", "NodePort", "10.96.0.20", "<none>", "80:31000/TCP,53/UDP"]
    assert rows[0][6] == "app=web"
    ext = svc("x", type="ExternalName", external_name="db.example.com")
    assert printers.table("Service", [ext], now=0)[1][0][:5] == ["x", "ExternalName", "<none>", "db.example.com",
                                                                  "<none>"]
    ep = core_pb2.Endpoints()
    ep.metadata.name = "many"
    subset = ep.subsets.add()
    for ip in ("10.244.0.5", "10.244.0.7", "10.244.0.8"):
        subset.addresses.add(ip=ip)
    subset.not_ready_addresses.add(ip="10.244.0.6")
    subset.ports.add(name="http", port=8080)
    subset.ports.add(name="https", port=443)
    assert printers.table("Endpoints", [ep], now=0)[1][0][1] == \
        "10.244.0.5:8080,10.244.0.7:8080,10.244.0.8:8080 + 3 more..."
    empty = discovery_pb2.EndpointSlice(address_type="IPv4")
    empty.metadata.name = "a-2g5sh"
    assert printers.table("EndpointSlice", [empty], now=0)[1][0][:4] == ["a-2g5sh", "IPv4", "<unset>", "<unset>"]


class FakeNetwork:
    def __init__(self) -> None:
        self.answers = {("10.96.0.20", 80): b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhi\n",
                        ("10.96.0.20", 81): b"HTTP/1.1 404 Not Found\r\n\r\nnope\n"}

    def resolve(self, host: str) -> str | None:
        return {"web": "10.96.0.20", "empty": "10.96.0.21", "10.96.0.20": "10.96.0.20"}.get(host)

    def fqdn(self, host: str) -> str:
        return f"{host}.default.svc.cluster.local"

    async def request(self, ip: str, port: int, data: bytes) -> bytes:
        assert data.startswith(b"GET /") or data.startswith(b"HEAD /")
        if (ip, port) not in self.answers:
            raise ConnectError("refused")
        return self.answers[(ip, port)]


async def run(*argv: str) -> tuple[int, list[str], ContainerFS]:
    out: list[str] = []
    fs = ContainerFS(image_root("client"))
    code = await run_command(list(argv), ShellContext(fs=fs, stdout=out.append, network=FakeNetwork()))
    return code, out, fs


async def test_wget_and_curl_as_the_real_clients() -> None:
    assert (await run("wget", "-qO-", "http://web"))[:2] == (0, ["hi"])
    assert (await run("wget", "-O-", "--timeout=2", "http://web"))[:2] == (0, [
        "Connecting to web (10.96.0.20:80)", "writing to stdout", "hi",
        "-                    100% |********************************|     3  0:00:00 ETA", "written to stdout"])
    assert (await run("wget", "-qO-", "http://empty"))[:2] == (
        1, ["wget: can't connect to remote host (10.96.0.21): Connection refused"])
    assert (await run("wget", "-qO-", "http://nosuch"))[:2] == (1, ["wget: bad address 'nosuch'"])
    assert (await run("wget", "-qO-", "http://web:81/x"))[:2] == (
        1, ["wget: server returned error: HTTP/1.1 404 Not Found"])
    code, _, fs = await run("wget", "-q", "http://web/")
    assert code == 0 and fs.read("/index.html") == b"hi\n"

    assert (await run("curl", "-s", "http://web:80/path"))[:2] == (0, ["hi"])
    assert (await run("curl", "-s", "http://empty"))[:2] == (7, [])
    assert (await run("curl", "-sS", "http://empty"))[:2] == (
        7, ["curl: (7) Failed to connect to empty port 80 after 0 ms: Connection refused"])
    assert (await run("curl", "http://nosuch"))[:2] == (6, ["curl: (6) Could not resolve host: nosuch"])
    assert (await run("curl", "-sf", "http://web:81/"))[:2] == (22, [])
    assert (await run("curl", "-s", "http://web:81/"))[:2] == (0, ["nope"])
    assert (await run("curl", "-sI", "http://web"))[1][0] == "HTTP/1.1 200 OK"

    assert (await run("nslookup", "web"))[:2] == (0, [
        "Server:\t\t10.96.0.10", "Address:\t10.96.0.10:53", "", "Name:\tweb.default.svc.cluster.local",
        "Address: 10.96.0.20", ""])
    code, out, _ = await run("nslookup", "nosuch")
    assert code == 1 and out[-2] == "** server can't find nosuch.default.svc.cluster.local: NXDOMAIN"


PEER_SLICE = """Name:         a-abcde
Namespace:    svc-probe
Labels:       kubernetes.io/service-name=a
Annotations:  <none>
AddressType:  IPv4
Ports:
  Name   Port  Protocol
  ----   ----  --------
  http   8080  TCP
  https  443   TCP
Endpoints:
  - Addresses:  10.244.0.5
    Conditions:
      Ready:    true
    Hostname:   <unset>
    TargetRef:  Pod/web-1
    NodeName:   <unset>
    Zone:       <unset>
  - Addresses:  10.244.0.6
    Conditions:
      Ready:   false
    Hostname:  <unset>
    NodeName:  <unset>
    Zone:      <unset>
Events:        <none>
"""

PEER_ENDPOINTS = """Name:         many
Namespace:    svc-probe
Labels:       <none>
Annotations:  <none>
Subsets:
  Addresses:          10.244.0.5,10.244.0.7,10.244.0.8
  NotReadyAddresses:  10.244.0.6
  Ports:
    Name   Port  Protocol
    ----   ----  --------
    http   8080  TCP
    https  443   TCP

Events:  <none>
"""


def test_describe_as_kubectl_against_the_peer() -> None:
    """What kubectl 1.35 printed for the same objects on the peer cluster."""
    es = discovery_pb2.EndpointSlice(address_type="IPv4")
    es.metadata.name, es.metadata.namespace = "a-abcde", "svc-probe"
    es.metadata.labels["kubernetes.io/service-name"] = "a"
    ready = es.endpoints.add(addresses=["10.244.0.5"])
    ready.conditions.ready, ready.conditions.serving, ready.conditions.terminating = True, True, False
    ready.target_ref.kind, ready.target_ref.name, ready.target_ref.namespace = "Pod", "web-1", "svc-probe"
    es.endpoints.add(addresses=["10.244.0.6"]).conditions.ready = False
    es.ports.add(name="http", port=8080, protocol="TCP")
    es.ports.add(name="https", port=443, protocol="TCP")
    assert printers.describe(es, [], now=0) == PEER_SLICE
    ep = core_pb2.Endpoints()
    ep.metadata.name, ep.metadata.namespace = "many", "svc-probe"
    subset = ep.subsets.add()
    for ip in ("10.244.0.5", "10.244.0.7", "10.244.0.8"):
        subset.addresses.add(ip=ip)
    subset.not_ready_addresses.add(ip="10.244.0.6")
    subset.ports.add(name="http", port=8080, protocol="TCP")
    subset.ports.add(name="https", port=443, protocol="TCP")
    assert printers.describe(ep, [], now=0) == PEER_ENDPOINTS


PEER_EXTERNAL_NAME = """Name:              x
Namespace:         svc-probe
Labels:            <none>
Annotations:       <none>
Selector:          <none>
Type:              ExternalName
IP Families:       <none>
IP:{padding}
IPs:               <none>
External Name:     my.database.example.com
Session Affinity:  None
Events:            <none>
""".format(padding=" " * 16)  # tabwriter pads the empty cell

PEER_LOAD_BALANCER = """Name:                     lb
Namespace:                svc-probe
Labels:                   <none>
Annotations:              <none>
Selector:                 <none>
Type:                     LoadBalancer
IP Family Policy:         SingleStack
IP Families:              IPv4
IP:                       10.96.149.186
IPs:                      10.96.149.186
External IPs:             1.2.3.4
Port:                     a  80/TCP
TargetPort:               80/TCP
NodePort:                 a  32747/TCP
Endpoints:                <none>
Port:                     b  81/UDP
TargetPort:               81/UDP
NodePort:                 b  30406/UDP
Endpoints:                <none>
Session Affinity:         None
External Traffic Policy:  Cluster
Internal Traffic Policy:  Cluster
Events:                   <none>
"""


def test_describe_service_as_kubectl_against_the_peer() -> None:
    x = svc("x", type="ExternalName", external_name="my.database.example.com")
    x.metadata.namespace = "svc-probe"
    default_service(x)
    assert printers.describe(x, [], now=0, endpoint_slices=[]) == PEER_EXTERNAL_NAME
    lb = svc("lb", type="LoadBalancer", cluster_ip="10.96.149.186")
    lb.metadata.namespace = "svc-probe"
    lb.spec.external_ips.append("1.2.3.4")
    lb.spec.ports.add(name="a", port=80, node_port=32747)
    lb.spec.ports.add(name="b", port=81, node_port=30406, protocol="UDP")
    default_service(lb)
    assert printers.describe(lb, [], now=0, endpoint_slices=[]) == PEER_LOAD_BALANCER


def test_endpoints_slices_and_cidrs_validation_as_the_peer() -> None:
    from apiserver.apis.core.endpoints import STRATEGY as ENDPOINTS
    from apiserver.apis.discovery.endpointslice import STRATEGY as SLICES
    from apiserver.apis.networking.ipaddress import STRATEGY as IPS
    from apiserver.apis.networking.servicecidr import STRATEGY as CIDRS
    from kubemu.config import ClusterConfig
    from kubemu.pb import networking_pb2

    es = discovery_pb2.EndpointSlice(address_type="IPv4")
    es.metadata.name, es.metadata.namespace = "bad", "svc-probe"
    es.endpoints.add(addresses=["not-an-ip"])
    es.endpoints.add()
    es.ports.add(name="Bad_Name", port=70000, protocol="XYZ")
    SLICES.default(es, ClusterConfig())
    assert [str(e) for e in SLICES.validate(es)] == [
        'ports[0].name: Invalid value: "Bad_Name": a lowercase RFC 1123 label must consist of lower case '
        "alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
        "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        'ports[0].protocol: Unsupported value: "XYZ": supported values: "SCTP", "TCP", "UDP"',
        'endpoints[0].addresses[0]: Invalid value: "not-an-ip": must be a valid IP address, (e.g. 10.9.8.7 or '
        "2001:db8::ffff)",
        "endpoints[1].addresses: Required value: must contain at least 1 address",
    ]
    ep = core_pb2.Endpoints()
    ep.metadata.name, ep.metadata.namespace = "bad3", "svc-probe"
    subset = ep.subsets.add()
    subset.addresses.add(ip="nope")
    subset.ports.add(port=0)
    subset.ports.add(port=80)
    ENDPOINTS.default(ep, ClusterConfig())
    assert [str(e) for e in ENDPOINTS.validate(ep)] == [
        'subsets[0].addresses[0].ip: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or '
        "2001:db8::ffff)",
        'subsets[0].addresses[0].ip: Invalid value: "nope": must be a valid IP address',
        "subsets[0].ports[0].name: Required value",
        "subsets[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        "subsets[0].ports[1].name: Required value",
    ]
    cidr = networking_pb2.ServiceCIDR()
    cidr.metadata.name = "c1"
    cidr.spec.cidrs.append("10.0.0.1/24")
    assert [str(e) for e in CIDRS.validate(cidr)] == [
        'spec.cidrs[0]: Invalid value: "10.0.0.1/24": must not have bits set beyond the prefix length']
    ip = networking_pb2.IPAddress()
    ip.metadata.name = "10.96.7.7"
    assert [str(e) for e in IPS.validate(ip)] == ["spec.parentRef: Required value"]


class FakeView:
    """What PodNetwork asks of the kubelet's ServiceView."""

    def __init__(self) -> None:
        web = svc("web", cluster_ip="10.96.0.20")
        web.spec.ports.add(port=80, name="http")
        other = svc("db", cluster_ip="10.96.0.30")
        other.metadata.namespace = "prod"
        headless = svc("h", cluster_ip="None")
        ext = svc("x", type="ExternalName", external_name="db.example.com")
        self.by_key = {f"{s.metadata.namespace}/{s.metadata.name}": s for s in (web, other, headless, ext)}

    def service(self, namespace: str, name: str) -> core_pb2.Service | None:
        return self.by_key.get(f"{namespace}/{name}")

    def endpoints(self, service: core_pb2.Service, port_name: str | None) -> list[object]:
        from kubelet.services import Backend

        return [Backend("default", "h-0", "10.244.1.7", 80)] if service.metadata.name == "h" else []


def test_pod_network_names() -> None:
    from typing import Any, cast

    from kubelet.network import ClusterNetwork

    network = ClusterNetwork(cast(Any, None), cast(Any, FakeView()), lambda ns, name: None, lambda ip: None)
    pod = network.for_pod("default", "client")
    assert pod.resolve("web") == pod.resolve("web.default") == pod.resolve("web.default.svc") == "10.96.0.20"
    assert pod.resolve("web.default.svc.cluster.local.") == "10.96.0.20"
    assert pod.resolve("db") is None and pod.resolve("db.prod") == "10.96.0.30"
    assert pod.resolve("h") == "10.244.1.7"  # a headless Service's name is its ready pods' addresses
    assert pod.resolve("x") is None  # an ExternalName is a CNAME to outside the simulation
    assert pod.resolve("10-244-1-5.default.pod.cluster.local") == "10.244.1.5"
    assert pod.resolve("localhost") == "127.0.0.1" and pod.resolve("10.1.2.3") == "10.1.2.3"
    assert pod.fqdn("web") == "web.default.svc.cluster.local"
    assert pod.fqdn("db.prod") == "db.prod.svc.cluster.local"
