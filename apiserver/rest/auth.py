"""What the REST face asks of authentication: the bearer token checked by `apiserver.authn` (the static token
file and ServiceAccount tokens, shared with the gRPC face), and the paths an anonymous request may read."""

from __future__ import annotations

from apiserver.authn import Authenticator, UserInfo, bearer_token

PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})
"""What an anonymous request may read: kube-apiserver's default RBAC binds these to system:unauthenticated
(system:public-info-viewer), so probes need no token. A request that sends a wrong token is refused even here."""


async def authenticate(authenticator: Authenticator, authorization: str | None) -> UserInfo | None:
    """The user an `Authorization: Bearer <token>` header names, or None."""
    token = bearer_token(authorization)
    return await authenticator.authenticate(token) if token else None
