"""Role guards for routes, and the user/token API.

Every route declares who may call it: ``requires(...)`` with the admitted roles, or ``public()``.
A test walks the whole route table and checks 401 without a token and 403 with a wrong role.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from leitstand.auth.model import ALL_ROLES, Actor, Role
from leitstand.deps import container_of
from leitstand.errors import AuthenticationError, ForbiddenError

__all__ = ["COOKIE_NAME", "PublicMarker", "RoleGuard", "public", "requires", "router"]

COOKIE_NAME = "leitstand_token"


class RoleGuard:
    """A dependency that authenticates the caller and admits only the listed roles."""

    def __init__(self, roles: frozenset[Role]) -> None:
        if not roles:
            raise ValueError("a route must admit at least one role")
        self.roles = roles

    async def __call__(self, request: Request) -> Actor:
        token = _presented_token(request)
        if not token:
            raise AuthenticationError("missing API token (Authorization: Bearer <token>)")
        auth = container_of(request).auth
        # A token seen recently resolves here, on the event loop; only a lookup in the
        # database goes to a worker thread.
        actor = auth.cached(token)
        if actor is None:
            actor = await run_in_threadpool(auth.authenticate, token)
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


def _presented_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE_NAME, "")


# -- user and token API ----------------------------------------------------------------------

router = APIRouter(prefix="/api/v1", tags=["auth"])


class MeOut(BaseModel):
    name: str
    role: str


class UserOut(BaseModel):
    name: str
    role: Role
    created_at: datetime
    disabled: bool
    active_tokens: int


class UserIn(BaseModel):
    model_config = {"extra": "forbid"}

    name: str = Field(min_length=1, max_length=63, examples=["anna"])
    role: Role


class TokenIn(BaseModel):
    model_config = {"extra": "forbid"}

    label: str = Field(default="api", min_length=1, max_length=100)


class TokenOut(BaseModel):
    name: str
    token: str = Field(description="Shown once; leitstand stores only its hash")


class RevokedOut(BaseModel):
    name: str
    revoked: int


@router.get("/me", response_model=MeOut)
def me(actor: Annotated[Actor, requires(*ALL_ROLES)]) -> MeOut:
    """Who the presented token belongs to."""
    return MeOut(name=actor.name, role=actor.role)


@router.get("/users", response_model=list[UserOut])
def list_users(request: Request, _: Annotated[Actor, requires(Role.DEVOPS)]) -> list[UserOut]:
    """Every user with their number of active tokens."""
    users = container_of(request).auth.list_users()
    return [
        UserOut(
            name=u.name,
            role=u.role,
            created_at=u.created_at,
            disabled=u.disabled,
            active_tokens=u.active_tokens,
        )
        for u in users
    ]


@router.post("/users", response_model=TokenOut, status_code=201)
def add_user(
    body: UserIn, request: Request, actor: Annotated[Actor, requires(Role.DEVOPS)]
) -> TokenOut:
    """Create a user; the response carries the user's token once."""
    _user, token = container_of(request).auth.add_user(name=body.name, role=body.role, actor=actor)
    return TokenOut(name=body.name, token=token)


@router.post("/users/{name}/tokens", response_model=TokenOut, status_code=201)
def issue_token(
    name: str, body: TokenIn, request: Request, actor: Annotated[Actor, requires(Role.DEVOPS)]
) -> TokenOut:
    """Issue another token for a user."""
    token = container_of(request).auth.issue_token(name=name, label=body.label, actor=actor)
    return TokenOut(name=name, token=token)


@router.delete("/users/{name}/tokens", response_model=RevokedOut)
def revoke_tokens(
    name: str, request: Request, actor: Annotated[Actor, requires(Role.DEVOPS)]
) -> RevokedOut:
    """Revoke every token of a user."""
    count = container_of(request).auth.revoke_tokens(name=name, actor=actor)
    return RevokedOut(name=name, revoked=count)
