"""`kubemu-apiserver`: the gRPC API in front of Redis, with health checking and server reflection, and the
Kubernetes REST API on a second listener (--secure-port)."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import signal
import sys
from typing import Any
from urllib.parse import urlsplit

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from apiserver import admission, authz, errors, kubernetesservice
from apiserver import serviceaccount as sa
from apiserver.apis.core.serviceallocator import DEFAULT_SERVICE_CIDR, ServiceAllocators, parse_port_range
from apiserver.authn import Authenticator, TokenAuthenticator, TokenFileError, TokenInterceptor
from apiserver.authz.escalation import EscalationCheck
from apiserver.authz.rbac import PolicyCache, RBACAuthorizer
from apiserver.lister import Lister
from apiserver.registry import Registry
from apiserver.rest import server as rest_server
from apiserver.service import ApiService
from apiserver.servicerepair import REPAIR_INTERVAL, ServiceRepair
from apiserver.storage import Store
from apiserver.watch import WatchHub
from kubemu import aio, logs
from kubemu import config as cfg
from kubemu.api import kinds
from kubemu.durations import positive_duration
from kubemu.pb import api_pb2, api_pb2_grpc

log = structlog.get_logger()

ADMISSION_LISTED = ("LimitRange", "ResourceQuota", "PriorityClass")
"""Kinds admission plugins read on every write, kept in memory (apiserver/lister.py)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="kubemu-apiserver",
        description="The kubemu API server: Kubernetes-shaped gRPC API backed by Redis, with watch.",
    )
    p.add_argument("--listen", default="127.0.0.1:6443", help="host:port to serve gRPC on (port 0 picks one)")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis URL of the store")
    p.add_argument("--config", help="cluster config YAML (timings); see kubemu/config.py")
    p.add_argument("--profile", default="default", choices=cfg.PROFILES, help="timing profile")
    p.add_argument("--bookmark-interval", type=float, default=5.0, help="seconds between watch bookmarks")
    p.add_argument("--event-ttl", type=positive_duration, metavar="DURATION",
                   help="how long Events are kept after their last write, as kube-apiserver's flag (1h, 90s, "
                        "1h30m; default: the config's store.event_ttl_seconds, 1h)")
    rest = p.add_argument_group("Kubernetes REST API", "the HTTP API kubectl and client libraries speak, beside gRPC "
                                "(kube-apiserver's flag names)")
    rest.add_argument("--secure-port", type=int, metavar="PORT",
                      help="port to serve the Kubernetes REST API on (0 picks one); absent: no REST listener")
    rest.add_argument("--bind-address", default="127.0.0.1", help="address the REST listener binds")
    rest.add_argument("--tls-cert-file", help="serving certificate (PEM) of the REST listener")
    rest.add_argument("--tls-private-key-file", help="its private key (PEM)")
    rest.add_argument("--token-auth-file", help="static bearer tokens (CSV: token,user,uid,\"group1,group2\"); "
                                                "with it, a request without a valid token gets 401, on both faces "
                                                "(gRPC: metadata `authorization: Bearer <token>`; health checks open)")
    tokens = p.add_argument_group("ServiceAccount tokens", "the TokenRequest API (serviceaccounts/token) and the "
                                  "authentication of its tokens (kube-apiserver's flag names)")
    tokens.add_argument("--service-account-issuer", action="append", default=[], metavar="URL",
                        help="the iss of the tokens made (the first given) and accepted (all); repeatable")
    tokens.add_argument("--service-account-signing-key-file", metavar="FILE",
                        help="private key (PEM, RSA or ECDSA) the tokens are signed with; with an issuer, serves "
                             "the serviceaccounts/token subresource")
    tokens.add_argument("--service-account-key-file", action="append", default=[], metavar="FILE",
                        help="public keys (PEM) tokens are checked with; repeatable (default: the signing key's)")
    tokens.add_argument("--api-audiences", type=_names, default=(), metavar="AUDIENCES",
                        help="comma-separated audiences of the API: a token must name one, and a TokenRequest "
                             "without audiences gets them (default: the issuers)")
    tokens.add_argument("--service-account-max-token-expiration", type=positive_duration, metavar="DURATION",
                        help="the longest expiration a TokenRequest gets (default: none)")
    tokens.add_argument("--service-account-extend-token-expiration", action=argparse.BooleanOptionalAction,
                        default=True, help="make the kubelet's default pod tokens (3607 s) valid for a year, with "
                                           "a warnafter claim (default true)")
    p.add_argument("--authorization-mode", type=_modes, default=("AlwaysAllow",), metavar="MODES",
                   help="ordered list of plug-ins to do authorization on both faces, comma-separated: "
                        f"{', '.join(authz.MODES)} (default AlwaysAllow); members of system:masters are always "
                        "allowed, as upstream's superusers")
    rest.add_argument("--insecure-rest", action="store_true",
                      help="serve the REST API over plain HTTP when no certificate is given (tests only)")
    svc = p.add_argument_group("Services", "kube-apiserver's flags")
    svc.add_argument("--service-cluster-ip-range", default=DEFAULT_SERVICE_CIDR, metavar="CIDR",
                     help="the range Services' cluster IPs come from; the first address is the kubernetes Service's "
                          f"(default {DEFAULT_SERVICE_CIDR})")
    svc.add_argument("--service-node-port-range", default="30000-32767", metavar="RANGE",
                     help="the ports NodePort and LoadBalancer Services get (default 30000-32767, inclusive)")
    svc.add_argument("--advertise-address", metavar="IP",
                     help="the address the kubernetes Service's endpoints name (default: --bind-address, or "
                          "127.0.0.1 when that is unspecified)")
    p.add_argument("--enable-admission-plugins", type=_plugin_names, default=None, metavar="NAMES",
                   help="admission plugins to run, comma-separated (default: every plugin kubemu has, "
                        "in upstream's order)")
    p.add_argument("--disable-admission-plugins", type=_plugin_names, default=frozenset(), metavar="NAMES",
                   help="admission plugins not to run, comma-separated")
    p.add_argument("--log-format", choices=("json", "console"), help="default: json unless on a terminal")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info",
                   help="debug also logs every write (object.created, object.updated, pod.bound, ...)")
    args = p.parse_args(argv)
    scheme = urlsplit(args.redis).scheme
    if scheme not in ("redis", "unix"):
        # The store's write connection speaks plain RESP over TCP or a unix socket (apiserver/resp.py).
        p.error(f"argument --redis: unsupported URL scheme {scheme!r} in {args.redis!r}: use redis:// or unix://")
    if (args.tls_cert_file is None) != (args.tls_private_key_file is None):
        p.error("--tls-cert-file and --tls-private-key-file go together")
    if args.service_account_signing_key_file and not args.service_account_issuer:
        p.error("service-account-issuer is a required flag when service-account-signing-key-file is given")
    if args.service_account_issuer and not (args.service_account_signing_key_file or args.service_account_key_file):
        p.error("service-account-key-file or service-account-signing-key-file is a required flag with "
                "service-account-issuer")
    if args.service_account_max_token_expiration is not None and not \
            3600 <= args.service_account_max_token_expiration <= 1 << 32:
        p.error("the service-account-max-token-expiration must be between 1 hour and 2^32 seconds")
    if args.secure_port is not None and args.tls_cert_file is None and not args.insecure_rest:
        p.error("--secure-port needs --tls-cert-file and --tls-private-key-file (or --insecure-rest for plain HTTP)")
    try:
        net = ipaddress.ip_network(args.service_cluster_ip_range, strict=True)
    except ValueError as e:
        p.error(f"argument --service-cluster-ip-range: {e}")
    if net.num_addresses < 8:
        p.error(f"argument --service-cluster-ip-range: {net} is too small: use a /29 or larger")
    try:
        args.node_ports = parse_port_range(args.service_node_port_range)
    except ValueError as e:
        p.error(f"argument --service-node-port-range: {e}")
    return args


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def service_accounts(args: argparse.Namespace, registry: Registry) -> tuple[sa.Issuer | None, sa.Validator | None]:
    """The token issuer (with a signing key) and validator (with keys to check) the flags ask for."""
    if not args.service_account_issuer:
        return None, None
    issuers = tuple(args.service_account_issuer)
    audiences = tuple(args.api_audiences) or issuers
    issuer = None
    if args.service_account_signing_key_file:
        key = sa.load_signing_key(args.service_account_signing_key_file)
        max_expiration = int(args.service_account_max_token_expiration or 0)
        issuer = sa.Issuer(issuers[0], key, audiences, max_expiration, args.service_account_extend_token_expiration)
    public: list[object] = []
    for path in args.service_account_key_file:
        public.extend(sa.load_public_keys(path))
    if not public and issuer is not None:
        public.append(issuer.key.public_key())

    async def get(kind: str, namespace: str, name: str) -> Any:
        try:
            return await registry.get(kind, namespace, name)
        except errors.NotFound:
            return None

    return issuer, sa.Validator(issuers, public, audiences, get)
def _modes(text: str) -> tuple[str, ...]:
    try:
        return authz.parse_modes(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _plugin_names(text: str) -> frozenset[str]:
    known = {p.name for p in admission.plugins()}
    names = frozenset(n.strip() for n in text.split(",") if n.strip())
    unknown = sorted(names - known)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown admission plugins: {', '.join(unknown)} "
                                         f"(known: {', '.join(sorted(known))})")
    return names


async def serve(args: argparse.Namespace) -> None:
    config = cfg.load(args.config, args.profile)
    event_ttl = args.event_ttl if args.event_ttl is not None else config.store.event_ttl_seconds
    if event_ttl <= 0:
        raise cfg.ConfigError(f"{args.config}: store.event_ttl_seconds: must be greater than zero, got {event_ttl}")
    tokens = TokenAuthenticator.from_file(args.token_auth_file) if args.token_auth_file else None
    store = Store(args.redis, watch_history=config.store.watch_history, ttl={"Event": event_ttl})
    registry = Registry(store, config, services=ServiceAllocators(args.service_cluster_ip_range, args.node_ports))
    registry.token_issuer, validator = service_accounts(args, registry)
    authenticator = Authenticator(tokens, validator) if tokens is not None or validator is not None else None
    backoff = 0.2
    while True:  # the store may come up after us (compose, chaos): wait for it rather than exit
        try:
            await registry.ensure_system_namespaces()
            break
        except Exception as e:
            log.warning("store.unavailable", error=str(e), retry_in=backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
    enabled = args.enable_admission_plugins or frozenset(p.name for p in admission.plugins())
    registry.enable_admission(enabled - args.disable_admission_plugins)
    hub = WatchHub(store, [k.kind for k in kinds.all_kinds()])
    await hub.start()
    registry.cached = hub.cached
    authorizer, policy = await _authorizer(args.authorization_mode, registry, hub)
    if policy is not None and not authorizer.allows_everything:
        registry.write_check = EscalationCheck(authorizer, RBACAuthorizer(policy))
    for kind in ADMISSION_LISTED:
        registry.listers[kind] = Lister(hub, store, kind)
        await registry.listers[kind].start()

    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 64 * 1024 * 1024),
                                      ("grpc.max_send_message_length", 64 * 1024 * 1024),
                                      # The SDK pings every 10 s, also on idle channels (a quiet watch):
                                      # accept that, rather than answer GOAWAY too_many_pings after a while.
                                      ("grpc.keepalive_permit_without_calls", 1),
                                      ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
                                      ("grpc.http2.max_ping_strikes", 0)],
                             interceptors=[TokenInterceptor(authenticator)] if authenticator else None)
    api_pb2_grpc.add_APIServicer_to_server(ApiService(
        registry, hub, args.bookmark_interval, authenticator=authenticator,
        authorizer=None if authorizer.allows_everything else authorizer), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = (
        api_pb2.DESCRIPTOR.services_by_name["API"].full_name,
        health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
        reflection.SERVICE_NAME,
    )
    reflection.enable_server_reflection(names, server)
    port = server.add_insecure_port(args.listen)
    if port == 0:
        sys.exit(f"kubemu-apiserver: cannot listen on {args.listen}")
    await server.start()
    for service in ("", api_pb2.DESCRIPTOR.services_by_name["API"].full_name):
        await health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    host = args.listen.rsplit(":", 1)[0]
    log.info("apiserver.listening", address=f"{host}:{port}", redis=args.redis, profile=config.profile)
    rest_listener = None
    if args.secure_port is not None:
        rest_listener = await rest_server.start(registry, hub, rest_server.RestConfig(
            bind_address=args.bind_address, secure_port=args.secure_port, tls_cert_file=args.tls_cert_file,
            tls_private_key_file=args.tls_private_key_file, token_auth_file=args.token_auth_file,
            bookmark_interval=args.bookmark_interval), authorizer, authenticator)
        url = rest_listener.url
        log.info("apiserver.listening", component="apiserver", api="rest", address=url.split("://", 1)[1], url=url,
                 authentication="token" if args.token_auth_file else "none",
                 authorization=",".join(args.authorization_mode))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sweeper = asyncio.create_task(_expire_events(registry, min(1.0, event_ttl / 2), stop))
    advertise = args.advertise_address or (args.bind_address if args.bind_address not in ("0.0.0.0", "::")
                                           else "127.0.0.1")
    api_port = int(rest_listener.api.address.rsplit(":", 1)[1]) if rest_listener is not None else port
    endpoints = asyncio.create_task(kubernetesservice.run(registry, advertise, api_port, stop))
    repair = asyncio.create_task(ServiceRepair(registry).run(config.scaled(REPAIR_INTERVAL), stop))
    await stop.wait()
    sweeper.cancel()
    endpoints.cancel()
    repair.cancel()
    log.info("apiserver.stopping")
    await health_servicer.enter_graceful_shutdown()
    if rest_listener is not None:
        await rest_listener.stop()
    await server.stop(grace=1.0)
    if policy is not None:
        await policy.stop()
    for lister in registry.listers.values():
        await lister.stop()
    await hub.stop()
    await store.close()


async def _authorizer(modes: tuple[str, ...], registry: Registry,
                      hub: WatchHub) -> tuple[authz.Union, PolicyCache | None]:
    """The authorizers of --authorization-mode in order; RBAC's reads the policy the hub keeps current."""
    policy: PolicyCache | None = None
    chain: list[authz.Authorizer] = []
    for mode in modes:
        if mode == "AlwaysAllow":
            chain.append(authz.AlwaysAllow())
        elif mode == "AlwaysDeny":
            chain.append(authz.AlwaysDeny())
        else:
            policy = PolicyCache(registry, hub)
            await policy.start()
            chain.append(RBACAuthorizer(policy))
    # Upstream turns anonymous requests off under AlwaysAllow; under the others they are system:anonymous.
    return authz.Union(chain, anonymous_allowed="AlwaysAllow" not in modes), policy


async def _expire_events(registry: Registry, interval: float, stop: asyncio.Event) -> None:
    """Every `interval` seconds, delete the Events past their time to live (etcd checks its leases about as
    often); a store that is down is tried again on the next tick."""
    failing = False
    while not stop.is_set():
        try:
            count = await registry.expire("Event")
            failing = False
            if count:
                log.info("events.expired", component="apiserver", count=count)
        except Exception as e:  # the store may be down for a while (chaos): the next tick tries again
            if not failing:  # once per outage, not every tick
                log.warning("events.expire_failed", component="apiserver", error=str(e))
            failing = True
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except TimeoutError:
            pass


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logs.configure("apiserver", json=None if args.log_format is None else args.log_format == "json",
                   level=args.log_level)
    try:
        aio.run(serve(args))
    except (cfg.ConfigError, TokenFileError, sa.KeyFileError) as e:
        sys.exit(f"kubemu-apiserver: {e}")


if __name__ == "__main__":
    main()
