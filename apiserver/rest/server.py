"""The HTTP listener: the aiohttp Application with kube-apiserver's paths (version, health, discovery, OpenAPI,
resources), authentication and error middleware, served over TLS on the gRPC server's event loop."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web

from apiserver import serviceaccount
from apiserver.authn import Authenticator, TokenAuthenticator, UserInfo, set_current_user
from apiserver.authz import ANONYMOUS, AlwaysAllow, Attributes, Union, impersonated
from apiserver.authz.escalation import REQUEST_USER
from apiserver.registry import Registry
from apiserver.rest import decode, discovery, handlers, openapi, reviews, status
from apiserver.rest.auth import PUBLIC_PATHS, authenticate
from apiserver.rest.handlers import Resources
from apiserver.rest.requestinfo import attributes
from apiserver.watch import WatchHub
from kubemu.api import kinds
from kubemu.api.errors import StatusError, new_internal_error

log = structlog.get_logger()

GIT_VERSION = "v1.35.0-kubemu"
"""What /version says: the Kubernetes version of the API types kubemu serves (its schema is kube-apiserver
1.35's), marked as kubemu's."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class RestConfig:
    """How the REST listener is served (kube-apiserver's flags)."""

    bind_address: str = "127.0.0.1"
    """--bind-address."""
    secure_port: int = 0
    """--secure-port; 0 picks a free port."""
    tls_cert_file: str | None = None
    """--tls-cert-file: with the key, HTTPS; without both, plain HTTP (only with --insecure-rest)."""
    tls_private_key_file: str | None = None
    token_auth_file: str | None = None
    """--token-auth-file: without it, every request is served unauthenticated."""
    bookmark_interval: float = 5.0


def version_info() -> dict[str, str]:
    return {"major": "1", "minor": "35", "gitVersion": GIT_VERSION, "gitCommit": "", "gitTreeState": "clean",
            "buildDate": "", "goVersion": "", "compiler": "cpython", "platform": "linux/amd64"}


def _json(request: web.Request, doc: Any, content_type: str = status.JSON) -> web.Response:
    return web.Response(body=status.encode(doc, status.pretty(request)), headers={"Content-Type": content_type})


def _bytes(body: bytes) -> web.Response:
    return web.Response(body=body, content_type=status.JSON)


def _wants_aggregated(request: web.Request) -> bool:
    """kubectl asks for aggregated discovery first, with the plain form as its fallback in the same header."""
    for part in request.headers.get("Accept", "").split(","):
        params = {p.strip().partition("=")[0]: p.strip().partition("=")[2] for p in part.split(";")[1:]}
        if params.get("as") == "APIGroupDiscoveryList" and params.get("g") == "apidiscovery.k8s.io" and \
                params.get("v") == "v2":
            return True
    return False


def _not_found_text() -> web.Response:
    # Outside /api and /apis, kube-apiserver's mux answers a plain 404.
    return web.Response(status=404, text="404 page not found\n", content_type="text/plain")


class RestApi:
    def __init__(self, registry: Registry, hub: WatchHub, config: RestConfig, authorizer: Union | None = None,
                 authenticator: Authenticator | None = None) -> None:
        self.config = config
        validator = authenticator.service_accounts if authenticator is not None else None
        self.issuer = (validator.issuers[0], validator.keys) if validator is not None else None
        """The issuer and its public keys, served as OIDC discovery documents (ServiceAccountIssuerDiscovery)."""
        self.resources = Resources(registry, hub, config.bookmark_interval)
        if authenticator is None and config.token_auth_file:
            authenticator = Authenticator(TokenAuthenticator.from_file(config.token_auth_file))
        self.auth = authenticator
        self.authorizer = authorizer or Union([AlwaysAllow()])
        self.reviews = reviews.Reviews(self.authorizer)
        self.address = ""
        self.log = log.bind(component="apiserver")

    # -- middleware -------------------------------------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        # The user for RBAC's escalation check on role and binding writes; unset again after the request, as one
        # connection's requests run in one task.
        token = REQUEST_USER.set(None)
        try:
            request["user"] = user = self._impersonate(request, await self._user(request))
            set_current_user(None if user is ANONYMOUS else user)
            if request.path not in PUBLIC_PATHS and not self.authorizer.allows_everything:
                self.authorizer.check(attributes(user, request.method, request.path, request.query))
                REQUEST_USER.set(user)
            response = await handler(request)
            if not response.prepared:  # a watch stream set its own before its first byte
                response.headers.setdefault("Cache-Control", "no-cache, private")
            return response
        except StatusError as e:
            return status.status_response(request, e)
        except kinds.UnknownKind as e:
            return status.status_response(request, StatusError(str(e), reason="NotFound", code=404))
        except web.HTTPMethodNotAllowed:
            return status.status_response(request, status.method_not_allowed())
        except web.HTTPNotFound:
            if request.path.startswith(("/api/", "/apis/", "/openapi/")):
                return status.status_response(request, status.path_not_found())
            return _not_found_text()
        except web.HTTPRequestEntityTooLarge:
            return status.status_response(request, status.too_large())
        except web.HTTPException:
            raise
        except Exception as e:  # a bug, not the client's fault: say so as upstream does, and keep serving
            self.log.exception("rest.internal_error", method=request.method, path=request.path)
            return status.status_response(request, new_internal_error(str(e)))
        finally:
            REQUEST_USER.reset(token)

    async def _user(self, request: web.Request) -> UserInfo:
        """Who sent the request: its bearer token's user (the token file's or a ServiceAccount's); without a token,
        system:anonymous where anonymous requests are allowed (not with AlwaysAllow, as upstream turns anonymous auth
        off then, nor outside the public paths without RBAC); a token no authenticator accepts is 401 everywhere.
        Without a token file every request is served, a ServiceAccount token still naming its user."""
        if self.auth is None:
            return ANONYMOUS
        header = request.headers.get("Authorization")
        if not self.auth.required:
            return (await authenticate(self.auth, header) if header else None) or ANONYMOUS
        if header:
            user = await authenticate(self.auth, header)
            if user is None:
                raise status.unauthorized()
            return user
        if request.path not in PUBLIC_PATHS and not self.authorizer.anonymous_allowed:
            raise status.unauthorized()
        return ANONYMOUS

    def _impersonate(self, request: web.Request, user: UserInfo) -> UserInfo:
        """Impersonate-User and Impersonate-Group (kubectl's --as, --as-group): allowed by the `impersonate` verb on
        users (a service account's name: on serviceaccounts in its namespace) and groups, as upstream's filter."""
        name = request.headers.get("Impersonate-User", "")
        groups = request.headers.getall("Impersonate-Group", [])
        if not name and not groups:
            return user
        if not name:
            raise status.bad_request("requested impersonation of groups without impersonating a user")
        sa = name.split(":")
        if len(sa) == 4 and name.startswith("system:serviceaccount:"):
            target = Attributes(user, "impersonate", namespace=sa[2], resource="serviceaccounts", name=sa[3])
        else:
            target = Attributes(user, "impersonate", resource="users", name=name)
        self.authorizer.check(target)
        for group in groups:
            self.authorizer.check(Attributes(user, "impersonate", resource="groups", name=group))
        return impersonated(name, groups)

    # -- handlers ---------------------------------------------------------------------------------------------------

    async def version(self, request: web.Request) -> web.Response:
        return _json(request, version_info())

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok", content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache, private"})

    async def openid_configuration(self, request: web.Request) -> web.Response:
        if self.issuer is None:
            raise web.HTTPNotFound()
        doc = serviceaccount.openid_configuration(self.issuer[0], f"https://{self.address}/openid/v1/jwks",
                                                  self.issuer[1])
        return web.Response(body=status.encode(doc, False), content_type=status.JSON,
                            headers={"Cache-Control": "public, max-age=3600"})

    async def jwks(self, request: web.Request) -> web.Response:
        if self.issuer is None:
            raise web.HTTPNotFound()
        return web.Response(body=status.encode(serviceaccount.jwks(self.issuer[1]), False),
                            headers={"Content-Type": "application/jwk-set+json",
                                     "Cache-Control": "public, max-age=3600"})

    async def api(self, request: web.Request) -> web.Response:
        if _wants_aggregated(request):
            return _json(request, discovery.aggregated(core=True), discovery.AGGREGATED)
        return _json(request, discovery.api_versions(self.address))

    async def apis(self, request: web.Request) -> web.Response:
        if _wants_aggregated(request):
            return _json(request, discovery.aggregated(core=False), discovery.AGGREGATED)
        return _json(request, discovery.api_group_list())

    async def api_group(self, request: web.Request) -> web.Response:
        doc = discovery.api_group(request.match_info["group"])
        if doc is None:
            raise status.path_not_found()
        return _json(request, doc)

    async def resource_list(self, request: web.Request) -> web.Response:
        group, version = request.match_info.get("group", ""), request.match_info["version"]
        doc = discovery.api_resource_list(group, version)
        if doc is None:
            raise status.path_not_found()
        return _json(request, doc)

    async def openapi_v2(self, request: web.Request) -> web.Response:
        if not _accepts_json(request):
            raise status.not_acceptable()
        return _bytes(openapi.v2())

    async def openapi_v3_index(self, request: web.Request) -> web.Response:
        if not _accepts_json(request):
            raise status.not_acceptable()
        return _bytes(openapi.v3_index())

    async def openapi_v3(self, request: web.Request) -> web.Response:
        if not _accepts_json(request):
            raise status.not_acceptable()
        parts = request.match_info["path"].split("/")
        doc = None
        if len(parts) == 2 and parts[0] == "api":
            doc = openapi.v3("", parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            doc = openapi.v3(parts[1], parts[2])
        if doc is None:
            raise status.path_not_found()
        # A URL with the document's hash names that content for good: clients may cache it (upstream's headers).
        cache = "public, immutable" if request.query.get("hash") else "no-cache, private"
        return web.Response(body=doc, content_type=status.JSON, headers={"Cache-Control": cache})

    async def core(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["version"] != "v1":
            raise status.path_not_found()
        return await self.resources.handle(request, "", "v1", request.match_info["tail"].split("/"))

    async def named(self, request: web.Request) -> web.StreamResponse:
        m = request.match_info
        if (m["group"], m["version"]) in reviews.GROUP_VERSIONS:
            return await self.reviews.handle(request, m["group"], m["tail"])
        return await self.resources.handle(request, m["group"], m["version"], m["tail"].split("/"))

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self.middleware], client_max_size=status.MAX_BODY)
        app.on_response_prepare.append(_deprecation_warning)
        r = app.router
        r.add_get("/version", self.version)
        for path in ("/healthz", "/livez", "/readyz"):
            r.add_get(path, self.health)
        r.add_get("/.well-known/openid-configuration", self.openid_configuration)
        r.add_get("/openid/v1/jwks", self.jwks)
        r.add_get("/api", self.api)
        r.add_get("/apis", self.apis)
        r.add_get("/api/{version}", self.resource_list)
        r.add_get("/apis/{group}", self.api_group)
        r.add_get("/apis/{group}/{version}", self.resource_list)
        r.add_get("/openapi/v2", self.openapi_v2)
        r.add_get("/openapi/v3", self.openapi_v3_index)
        r.add_get("/openapi/v3/{path:.+}", self.openapi_v3)
        r.add_route("*", "/api/{version}/{tail:.+}", self.core)
        r.add_route("*", "/apis/{group}/{version}/{tail:.+}", self.named)
        return app


def _accepts_json(request: web.Request) -> bool:
    """OpenAPI is served as JSON only: a client that asks for protobuf alone gets 406 and asks again for JSON."""
    header = request.headers.get("Accept", "")
    if not header.strip():
        return True
    for part in header.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("application/json", "*/*", "application/*"):
            return True
    return False


def ssl_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


SHUTDOWN_TIMEOUT = 2.0
"""Seconds a stopping listener waits for requests in flight (watches are ended at once) before it drops them."""


@dataclass
class Listener:
    """A running REST listener."""

    url: str
    runner: web.AppRunner
    api: RestApi

    async def stop(self) -> None:
        self.api.resources.watch.close_all()  # a watch would otherwise hold the shutdown for its whole timeout
        await self.runner.cleanup()


async def start(registry: Registry, hub: WatchHub, config: RestConfig, authorizer: Union | None = None,
                authenticator: Authenticator | None = None) -> Listener:
    """Serve the REST API until the returned listener is stopped; `authorizer` decides every request but the
    health checks (default: AlwaysAllow); `authenticator` (else one of the config's token file) checks its bearer
    tokens."""
    api = RestApi(registry, hub, config, authorizer, authenticator)
    openapi.v2(), openapi.v3_index()  # built once (~50 ms), before the first client waits on it
    tls = config.tls_cert_file is not None and config.tls_private_key_file is not None
    runner = web.AppRunner(api.application(), access_log=None, handle_signals=False,
                           shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    site = web.TCPSite(runner, config.bind_address, config.secure_port,
                       ssl_context=ssl_context(config.tls_cert_file or "", config.tls_private_key_file or "")
                       if tls else None, reuse_address=True)
    await site.start()
    host, port = runner.addresses[0][:2]
    api.address = f"{host}:{port}"
    return Listener(f"{'https' if tls else 'http'}://{api.address}", runner, api)


async def _deprecation_warning(request: web.Request, response: web.StreamResponse) -> None:
    """A request for a deprecated kind is answered with upstream's Warning header, whatever the verb."""
    text = request.get(handlers.DEPRECATION_KEY)
    if text:
        for name, value in decode.warning_headers([text]):
            response.headers.add(name, value)
