"""Wire schemas of the user and token API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from leitstand.identity import Role

__all__ = ["MeOut", "RevokedOut", "TokenIn", "TokenOut", "UserIn", "UserOut"]


class MeOut(BaseModel):
    name: str
    role: str


class UserOut(BaseModel):
    name: str
    role: Role
    created_at: datetime
    disabled: bool
    active_tokens: int
    last_used_at: datetime | None = Field(
        description="Last use of any of the user's tokens (noted at most once a minute)"
    )


class UserIn(BaseModel):
    model_config = {"extra": "forbid"}

    name: str = Field(min_length=1, max_length=63, examples=["anna"])
    role: Role


class TokenIn(BaseModel):
    model_config = {"extra": "forbid"}

    label: str = Field(default="api", min_length=1, max_length=100)
    expires: str | None = Field(
        default=None,
        max_length=32,
        description="Valid for this long (e.g. 30d, 12h); null: until revoked",
        examples=["30d"],
    )


class TokenOut(BaseModel):
    name: str
    token: str = Field(description="Shown once; leitstand stores only its hash")
    expires_at: datetime | None = None


class RevokedOut(BaseModel):
    name: str
    revoked: int
