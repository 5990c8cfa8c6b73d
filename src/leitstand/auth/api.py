"""Role guards for routes, and the user/token API.

Every route declares who may call it: ``requires(...)`` with the admitted roles, or ``public()``.
A test walks the whole route table and checks 401 without a token and 403 with a wrong role.

A caller authenticates with ``Authorization: Bearer <API token>`` (scripts, CI, the CLI) or
with the web UI's session cookie. A request authenticated by the cookie that changes anything
(POST, PUT, PATCH, DELETE) must also carry the session's CSRF token (form field
``csrf_token`` or header ``X-CSRF-Token``); bearer calls need none, since a browser never adds
that header on its own.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from leitstand.auth.model import ALL_ROLES, Actor, Role
from leitstand.auth.schemas import MeOut, RevokedOut, TokenIn, TokenOut, UserIn, UserOut
from leitstand.auth.service import AuthService
from leitstand.deps import container_of, provide
from leitstand.errors import AuthenticationError, ForbiddenError, Issue, ValidationError
from leitstand.policy.durations import parse_duration

__all__ = [
    "BEARER",
    "COOKIE_NAME",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SAFE_METHODS",
    "PublicMarker",
    "RoleGuard",
    "check_csrf",
    "public",
    "requires",
    "router",
    "session_cookie_secure",
]

#: The web session cookie: a random session id, never an API token.
COOKIE_NAME = "leitstand_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

#: Declares the bearer scheme in the OpenAPI document ("Authorize" in /docs); the guard itself
#: reads the header (and the session cookie), so this never answers on its own.
BEARER = HTTPBearer(
    scheme_name="bearer",
    description="An API token from `leitstand user add` or `leitstand user token`.",
    auto_error=False,
)


class RoleGuard:
    """A dependency that authenticates the caller and admits only the listed roles."""

    def __init__(self, roles: frozenset[Role]) -> None:
        if not roles:
            raise ValueError("a route must admit at least one role")
        self.roles = roles

    async def __call__(
        self,
        request: Request,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None,
    ) -> Actor:
        actor = await _authenticate(request)
        if Role(actor.role) not in self.roles:
            admitted = ", ".join(sorted(r.value for r in self.roles))
            raise ForbiddenError(f"role {actor.role!r} may not do this (admitted: {admitted})")
        request.state.actor = actor
        return actor


class PublicMarker:
    """A dependency that marks a route as deliberately public (health, metrics, login)."""

    def __call__(self) -> None:
        return None


def requires(*roles: Role) -> Any:
    """Declare the roles a route admits; use as a parameter default."""
    return Depends(RoleGuard(frozenset(roles)))


def public() -> Any:
    """Declare a route public; use in ``dependencies=[public()]``."""
    return Depends(PublicMarker())


async def _authenticate(request: Request) -> Actor:
    # The guard runs before any route dependency: it reaches the auth service directly.
    auth = container_of(request).get(AuthService)
    token = _bearer_token(request)
    if token:
        # A token seen recently resolves here, on the event loop; only a lookup in the
        # database goes to a worker thread.
        actor = auth.cached(token)
        if actor is None:
            actor = await run_in_threadpool(auth.authenticate, token)
        return actor
    session_id = request.cookies.get(COOKIE_NAME, "")
    if not session_id:
        raise AuthenticationError("missing API token (Authorization: Bearer <token>)")
    web = auth.sessions.cached(session_id)
    if web is None:
        web = await run_in_threadpool(auth.sessions.resolve, session_id)
    request.state.csrf_token = web.csrf_token
    if request.method not in SAFE_METHODS:
        await check_csrf(request, web.csrf_token)
    return web.actor


async def check_csrf(request: Request, expected: str) -> None:
    """Refuse (403) an unsafe request by the session cookie without the session's CSRF token."""
    presented = request.headers.get(CSRF_HEADER, "")
    content_type = request.headers.get("content-type", "")
    if not presented and content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        presented = value if isinstance(value, str) else ""
    if not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise ForbiddenError(
            "missing or wrong CSRF token: reload the page and try again "
            f"(form field {CSRF_FIELD!r} or header {CSRF_HEADER})"
        )


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return ""


def session_cookie_secure(request: Request) -> bool:
    """The session cookie is ``Secure`` whenever leitstand is reached over TLS."""
    return request.url.scheme == "https"


# -- user and token API ----------------------------------------------------------------------

router = APIRouter(prefix="/api/v1", tags=["auth"])


Auth = Annotated[AuthService, provide(AuthService)]


@router.get("/me", response_model=MeOut)
def me(actor: Annotated[Actor, requires(*ALL_ROLES)]) -> MeOut:
    """Who the presented token belongs to."""
    return MeOut(name=actor.name, role=actor.role)


@router.get("/users", response_model=list[UserOut])
def list_users(auth: Auth, _: Annotated[Actor, requires(Role.DEVOPS)]) -> list[UserOut]:
    """Every user with their number of active tokens."""
    users = auth.list_users()
    return [
        UserOut(
            name=u.name,
            role=u.role,
            created_at=u.created_at,
            disabled=u.disabled,
            active_tokens=u.active_tokens,
            last_used_at=u.last_used_at,
        )
        for u in users
    ]


@router.post("/users", response_model=TokenOut, status_code=201)
def add_user(body: UserIn, auth: Auth, actor: Annotated[Actor, requires(Role.DEVOPS)]) -> TokenOut:
    """Create a user; the response carries the user's token once."""
    _user, token = auth.add_user(name=body.name, role=body.role, actor=actor)
    return TokenOut(name=body.name, token=token)


@router.post("/users/{name}/tokens", response_model=TokenOut, status_code=201)
def issue_token(
    name: str, body: TokenIn, auth: Auth, actor: Annotated[Actor, requires(Role.DEVOPS)]
) -> TokenOut:
    """Issue another token for a user, optionally expiring after ``expires``."""
    expires = None
    if body.expires is not None:
        try:
            expires = parse_duration(body.expires)
        except ValueError as exc:
            raise ValidationError([Issue("expires", str(exc))]) from None
    token, expires_at = auth.issue_expiring_token(
        name=name, label=body.label, actor=actor, expires=expires
    )
    return TokenOut(name=name, token=token, expires_at=expires_at)


@router.delete("/users/{name}/tokens", response_model=RevokedOut)
def revoke_tokens(
    name: str, auth: Auth, actor: Annotated[Actor, requires(Role.DEVOPS)]
) -> RevokedOut:
    """Revoke every token of a user."""
    count = auth.revoke_tokens(name=name, actor=actor)
    return RevokedOut(name=name, revoked=count)
