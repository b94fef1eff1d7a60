"""Services against a real apiserver on a real Redis: upstream's defaults and messages, cluster IPs from
--service-cluster-ip-range as IPAddress objects (never one address for two live Services, across concurrent creates
and deletes and an apiserver restart), node ports from --service-node-port-range, and the `kubernetes` Service."""

from __future__ import annotations

import asyncio
import ipaddress
import random
import shutil
from collections.abc import AsyncIterator, Iterator

import pytest

from kubemu.api import errors
from kubemu.client.client import Client
from kubemu.pb import core_pb2
from tests.support import ApiServer, RedisContainer, RedisServer, free_port, fresh_database, until

pytestmark = pytest.mark.integration

CIDR = "10.97.0.0/16"


def service(name: str, *ports: int, **spec: object) -> core_pb2.Service:
    svc = core_pb2.Service()
    svc.metadata.name = name
    for i, port in enumerate(ports):
        svc.spec.ports.add(port=port, name=f"p{i}" if len(ports) > 1 else None)
    for key, value in spec.items():
        setattr(svc.spec, key, value)
    return svc


@pytest.fixture(scope="module")
def own_apiserver(redis_server: RedisServer | RedisContainer) -> Iterator[ApiServer]:
    """An apiserver with a range of its own, on a database of its own, so that a restart is this module's."""
    server = ApiServer(fresh_database(redis_server.url, 7), rest_port=free_port(),
                       flags=["--service-cluster-ip-range", CIDR]).start()
    yield server
    server.stop()
    if server.rest is not None:
        shutil.rmtree(server.rest.dir, ignore_errors=True)


@pytest.fixture
async def api(own_apiserver: ApiServer) -> AsyncIterator[Client]:
    c = Client(own_apiserver.address)
    yield c
    await c.close()


@pytest.fixture
async def ns(api: Client) -> str:
    name = f"svc-{random.randrange(1 << 30):x}"
    obj = core_pb2.Namespace()
    obj.metadata.name = name
    await api.namespaces.create(obj)
    return name


async def test_defaults_as_upstream(api: Client, ns: str) -> None:
    svc = service("web", 80, 443)
    svc.spec.ports[0].target_port.str_val = "http"
    svc.spec.selector["app"] = "web"
    got = await api.resource("Service").create(_in(svc, ns))
    spec = got.spec
    assert spec.type == "ClusterIP" and spec.session_affinity == "None"
    assert spec.internal_traffic_policy == "Cluster" and not spec.HasField("external_traffic_policy")
    assert list(spec.ip_families) == ["IPv4"] and spec.ip_family_policy == "SingleStack"
    assert ipaddress.ip_address(spec.cluster_ip) in ipaddress.ip_network(CIDR)
    assert list(spec.cluster_ips) == [spec.cluster_ip]
    assert [p.protocol for p in spec.ports] == ["TCP", "TCP"]
    assert spec.ports[0].target_port.str_val == "http" and spec.ports[1].target_port.int_val == 443
    ip = await api.resource("IPAddress").get(spec.cluster_ip)
    assert ip.spec.parent_ref.resource == "services" and ip.spec.parent_ref.name == "web"
    assert ip.spec.parent_ref.namespace == ns
    assert ip.metadata.labels["ipaddress.kubernetes.io/managed-by"] == "ipallocator.k8s.io"

    np = await api.resource("Service").create(_in(service("np", 80, type="NodePort"), ns))
    assert np.spec.external_traffic_policy == "Cluster"
    assert 30000 <= np.spec.ports[0].node_port <= 32767

    headless = await api.resource("Service").create(_in(service("h", cluster_ip="None"), ns))
    assert headless.spec.cluster_ip == "None" and list(headless.spec.cluster_ips) == ["None"]

    ext = await api.resource("Service").create(_in(service("x", type="ExternalName",
                                                           external_name="db.example.com"), ns))
    assert not ext.spec.cluster_ip and not ext.spec.HasField("internal_traffic_policy")


def _in(svc: core_pb2.Service, ns: str) -> core_pb2.Service:
    svc.metadata.namespace = ns
    return svc


async def test_validation_messages(api: Client, ns: str) -> None:
    bad = service("c", 70000, 0, 80, 81)
    bad.spec.ports[1].name = "p0"
    bad.spec.ports[2].node_port = 31000
    bad.spec.ports[2].ClearField("name")
    bad.spec.ports[3].ClearField("name")
    bad.spec.session_affinity = "Foo"
    with pytest.raises(errors.Invalid) as e:
        await api.resource("Service").create(_in(bad, ns))
    message = str(e.value)
    for line in ('spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive',
                 'spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
                 'spec.ports[1].name: Duplicate value: "p0"',
                 'spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive',
                 'spec.ports[2].name: Required value',
                 'spec.sessionAffinity: Unsupported value: "Foo": supported values: "ClientIP", "None"',
                 "spec.ports[2].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"):
        assert line in message, message
    with pytest.raises(errors.Invalid, match=r"spec.ports: Required value"):
        await api.resource("Service").create(_in(service("e"), ns))
    dup = service("d", 80, 80)
    with pytest.raises(errors.Invalid) as e:
        await api.resource("Service").create(_in(dup, ns))
    assert 'spec.ports[1]: Duplicate value: {"Name":"","Protocol":"TCP","AppProtocol":null,"Port":80,' \
           '"TargetPort":0,"NodePort":0}' in str(e.value)
    with pytest.raises(errors.Invalid, match=r'spec.externalName: Invalid value: "bad_name": a lowercase RFC 1123'):
        await api.resource("Service").create(_in(service("z", type="ExternalName", external_name="bad_name"), ns))
    with pytest.raises(errors.Invalid, match=r'spec.clusterIPs\[0\]: Invalid value: "abc": must be a valid IP'):
        await api.resource("Service").create(_in(service("z", 80, cluster_ip="abc"), ns))


async def test_requested_addresses_and_ports(api: Client, ns: str) -> None:
    services = api.resource("Service")
    first = await services.create(_in(service("a", 80), ns))
    taken = first.spec.cluster_ip
    with pytest.raises(errors.Invalid) as e:
        await services.create(_in(service("b", 80, cluster_ip=taken), ns))
    assert str(e.value) == (f'Service "b" is invalid: spec.clusterIPs: Invalid value: ["{taken}"]: failed to allocate '
                            f"IP {taken}: provided IP is already allocated")
    with pytest.raises(errors.Invalid, match=r'spec.clusterIPs: Invalid value: \["10.200.0.5"\]: failed to allocate '
                                             r"IP 10.200.0.5: the provided network does not match the current range"):
        await services.create(_in(service("b", 80, cluster_ip="10.200.0.5"), ns))
    with pytest.raises(errors.Invalid, match=r"failed to allocate IP 10.97.0.1: provided IP is already allocated"):
        await services.create(_in(service("b", 80, cluster_ip="10.97.0.1"), ns))  # the kubernetes Service's
    mine = await services.create(_in(service("b", 80, cluster_ip="10.97.0.77"), ns))
    assert mine.spec.cluster_ip == "10.97.0.77"

    np = await services.create(_in(service("np", 80, type="NodePort"), ns))
    port = np.spec.ports[0].node_port
    again = _in(service("np2", 80, type="NodePort"), ns)
    again.spec.ports[0].node_port = port
    with pytest.raises(errors.Invalid) as e:
        await services.create(again)
    assert str(e.value) == (f'Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: {port}: provided port '
                            "is already allocated")
    again.spec.ports[0].node_port = 20000
    with pytest.raises(errors.Invalid, match=r"spec.ports\[0\].nodePort: Invalid value: 20000: provided port is not "
                                             r"in the valid range. The range of valid ports is 30000-32767"):
        await services.create(again)

    with pytest.raises(errors.Invalid, match=r'spec.clusterIPs\[0\]: Invalid value: \["10.97.0.78"\]: may not '
                                             "change once set"):
        changed = await services.get("b", ns)
        changed.spec.cluster_ip = "10.97.0.78"
        del changed.spec.cluster_ips[:]
        await services.update(changed)
    # an update that leaves the address out keeps it (patchAllocatedValues)
    kept = await services.get("np", ns)
    kept.spec.ClearField("cluster_ip")
    kept.spec.ClearField("cluster_ips")
    kept.spec.ports[0].ClearField("node_port")
    kept = await services.update(kept)
    assert kept.spec.cluster_ip == np.spec.cluster_ip and kept.spec.ports[0].node_port == port

    # deleting gives the address and the port back
    await services.delete("np", ns)
    await until(lambda: _gone(api, np.spec.cluster_ip))
    again.spec.ports[0].node_port = port
    assert (await services.create(again)).spec.ports[0].node_port == port


async def _gone(api: Client, ip: str) -> bool:
    try:
        await api.resource("IPAddress").get(ip)
    except errors.NotFound:
        return True
    return False


async def test_kubernetes_service(api: Client, own_apiserver: ApiServer) -> None:
    svc = await until(lambda: _get(api, "Service", "kubernetes"))
    assert svc.spec.cluster_ip == "10.97.0.1"
    assert [(p.name, p.port, p.target_port.int_val) for p in svc.spec.ports] == [
        ("https", 443, own_apiserver.rest_port)]
    ep = await until(lambda: _get(api, "Endpoints", "kubernetes"))
    assert [(a.ip, p.port) for s in ep.subsets for a in s.addresses for p in s.ports] == [
        ("127.0.0.1", own_apiserver.rest_port)]
    es = await until(lambda: _get(api, "EndpointSlice", "kubernetes"))
    assert list(es.endpoints[0].addresses) == ["127.0.0.1"] and es.ports[0].port == own_apiserver.rest_port
    cidr = await api.resource("ServiceCIDR").get("kubernetes")
    assert list(cidr.spec.cidrs) == [CIDR]


async def _get(api: Client, kind: str, name: str) -> object:
    try:
        return await api.resource(kind).get(name, "default")
    except errors.NotFound:
        return None


async def test_cluster_ips_never_repeat_among_live_services(api: Client, ns: str, own_apiserver: ApiServer) -> None:
    """1,000 creates and deletes, 16 at a time, then an apiserver restart and more: a live Service's address is
    never another live Service's, and every address is in range."""
    services = api.resource("Service")
    live: dict[str, str] = {}
    owners: dict[str, str] = {}
    rng = random.Random(7)
    lock = asyncio.Lock()

    async def one(i: int) -> None:
        name = f"s{i}"
        kind = rng.choice(["ClusterIP", "ClusterIP", "NodePort"])
        got = await services.create(_in(service(name, 80, type=kind), ns))
        ip = got.spec.cluster_ip
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(CIDR)
        async with lock:
            assert ip not in owners, f"{ip} given to {name} while {owners.get(ip)} holds it"
            owners[ip] = name
            live[name] = ip
        if rng.random() < 0.6:
            async with lock:
                del owners[ip]
                del live[name]
            await services.delete(name, ns)

    async def batch(start: int, count: int) -> None:
        sem = asyncio.Semaphore(16)

        async def guarded(i: int) -> None:
            async with sem:
                await one(i)

        await asyncio.gather(*(guarded(i) for i in range(start, start + count)))

    await batch(0, 700)
    own_apiserver.stop()
    own_apiserver.start()
    await api.close()
    restarted = Client(own_apiserver.address)
    try:
        services = restarted.resource("Service")
        await batch(700, 300)
        stored = (await services.list(ns)).items
        ips = [s.spec.cluster_ip for s in stored]
        assert len(ips) == len(set(ips)) == len(live)
        node_ports = [p.node_port for s in stored for p in s.spec.ports if p.node_port]
        assert len(node_ports) == len(set(node_ports))
        addresses = {a.metadata.name for a in (await restarted.resource("IPAddress").list()).items}
        assert set(ips) <= addresses
    finally:
        await restarted.close()


async def test_type_changes_allocate_and_release(api: Client, ns: str) -> None:
    services = api.resource("Service")
    np = await services.create(_in(service("t", 80, type="NodePort"), ns))
    port, ip = np.spec.ports[0].node_port, np.spec.cluster_ip
    # NodePort -> ClusterIP: the node port and the external traffic policy go (dropTypeDependentFields)
    np.spec.type = "ClusterIP"
    plain = await services.update(np)
    assert plain.spec.cluster_ip == ip and not plain.spec.ports[0].node_port
    assert not plain.spec.HasField("external_traffic_policy")
    taker = _in(service("taker", 80, type="NodePort"), ns)
    taker.spec.ports[0].node_port = port
    assert (await services.create(taker)).spec.ports[0].node_port == port  # it was given back
    # ClusterIP -> ExternalName: the address goes; and back: a new one comes
    plain.spec.type = "ExternalName"
    plain.spec.external_name = "db.example.com"
    ext = await services.update(plain)
    assert not ext.spec.cluster_ip and not ext.spec.cluster_ips and not ext.spec.ip_families
    await until(lambda: _gone(api, ip))
    ext.spec.type = "ClusterIP"
    back = await services.update(ext)
    assert back.spec.cluster_ip and back.spec.cluster_ip != "None"
    assert (await api.resource("IPAddress").get(back.spec.cluster_ip)).spec.parent_ref.name == "t"


async def test_headless_and_dry_run(api: Client, ns: str) -> None:
    services = api.resource("Service")
    bare = await services.create(_in(service("bare", 80, cluster_ip="None"), ns))
    assert bare.spec.ip_family_policy == "RequireDualStack" and list(bare.spec.ip_families) == ["IPv4", "IPv6"]
    selected = _in(service("sel", cluster_ip="None"), ns)
    selected.spec.selector["app"] = "x"
    got = await services.create(selected)
    assert got.spec.ip_family_policy == "SingleStack" and list(got.spec.ip_families) == ["IPv4"]
    assert not got.spec.ports  # a headless Service needs no ports
    before = {a.metadata.name for a in (await api.resource("IPAddress").list()).items}
    dry = await services.create(_in(service("dry", 80, type="NodePort"), ns), dry_run=True)
    assert dry.metadata.name == "dry"
    after = {a.metadata.name for a in (await api.resource("IPAddress").list()).items}
    assert after == before  # a dry run takes no address
    with pytest.raises(errors.NotFound):
        await services.get("dry", ns)


async def test_repair_frees_leaks_and_restores_lost_addresses(api: Client, ns: str, own_apiserver: ApiServer) -> None:
    """The repair pass, in this process on the apiserver's store: a leaked address and node port (taken by an
    apiserver that died before storing its Service) are freed on the second pass that sees them; a Service whose
    IPAddress was deleted gets it back."""
    from apiserver.apis.core.serviceallocator import NODE_PORTS, ServiceAllocators
    from apiserver.registry import Registry
    from apiserver.servicerepair import ServiceRepair
    from apiserver.storage import Store
    from kubemu.config import ClusterConfig
    from kubemu.pb import networking_pb2

    store = Store(own_apiserver.redis_url)
    try:
        registry = Registry(store, ClusterConfig(), services=ServiceAllocators(CIDR))
        repair = ServiceRepair(registry)
        leak = networking_pb2.IPAddress()
        leak.metadata.name = "10.97.200.200"
        leak.metadata.labels["ipaddress.kubernetes.io/managed-by"] = "ipallocator.k8s.io"
        leak.spec.parent_ref.resource = "services"
        leak.spec.parent_ref.namespace = ns
        leak.spec.parent_ref.name = "never-stored"
        await api.resource("IPAddress").create(leak)
        assert await store.claim(NODE_PORTS, "32000", f"{ns}/never-stored/uid")
        kept = await api.resource("Service").create(_in(service("kept", 80, type="NodePort"), ns))
        await api.resource("IPAddress").delete(kept.spec.cluster_ip)

        await repair.repair_once()  # first sighting: suspects only; the lost address is back at once
        assert (await api.resource("IPAddress").get(kept.spec.cluster_ip)).spec.parent_ref.name == "kept"
        assert not await _gone(api, "10.97.200.200")
        await repair.repair_once()
        assert await _gone(api, "10.97.200.200")
        claimed = await store.claimed(NODE_PORTS)
        assert "32000" not in claimed and str(kept.spec.ports[0].node_port) in claimed
    finally:
        await store.close()
