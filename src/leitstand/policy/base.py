"""Building blocks shared by every policy section: the base model, texts, roles, numbers, rules."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictInt,
    model_validator,
)
from pydantic_core import PydanticCustomError

from leitstand.policy.values import describe, number

__all__ = [
    "Count",
    "Flag",
    "Frequency",
    "Number",
    "Percent",
    "PolicyModel",
    "Problem",
    "Role",
    "RoleList",
    "Rules",
    "Text",
    "TextList",
    "unique_list",
]


_T = TypeVar("_T")


class PolicyModel(BaseModel):
    """Base of every policy model: immutable, and unknown keys are errors rather than ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Text(PolicyModel):
    """A text in German (the seed's language, default for documents) and English."""

    de: str
    en: str

    @model_validator(mode="before")
    @classmethod
    def _from_plain_string(cls, data: Any) -> Any:
        # A user writing one string means it for both languages.
        if isinstance(data, str):
            return {"de": data, "en": data}
        return data

    def get(self, lang: str) -> str:
        """Return the text in ``lang`` ("de" or "en")."""
        return self.en if lang == "en" else self.de


TextList = list[Text]


class Role(StrEnum):
    """The fixed set of roles (the auth roles); every person in the policy is one of these."""

    DEVOPS = "devops"
    DEVELOPER = "developer"
    ONCALL = "oncall"
    COMPLIANCE_OFFICER = "compliance_officer"
    SECURITY = "security"
    QA = "qa"
    PRODUCT_OWNER = "product_owner"
    MANAGEMENT = "management"
    AUDITOR = "auditor"


class Frequency(StrEnum):
    """How often a recurring duty (recovery test, game day) is due."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMI_ANNUAL = "semi_annual"
    ANNUAL = "annual"


def unique_list(items: list[_T]) -> list[_T]:
    """Refuse a list that names the same entry twice."""
    seen: set[object] = set()
    for item in items:
        if item in seen:
            raise PydanticCustomError(
                "duplicate", f"each entry only once (got {describe(item)} twice)"
            )
        seen.add(item)
    return items


RoleList = Annotated[list[Role], AfterValidator(unique_list)]


def _number(value: object) -> int | float:
    # YAML gives real numbers; a quoted "70" or a bool is more likely a slip than intent.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("number", f"a number (got {describe(value)})")
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("number", f"a finite number (got {describe(value)})")
    return value


def _percent(value: object) -> int | float:
    result = _number(value)
    if not 0 <= result <= 100:
        raise PydanticCustomError(
            "number", f"a percentage between 0 and 100 (got {number(result)})"
        )
    return result


Number = Annotated[int | float, PlainValidator(_number)]
Percent = Annotated[int | float, PlainValidator(_percent)]
Count = Annotated[StrictInt, Field(ge=0)]
Flag = StrictBool


@dataclass(frozen=True, slots=True)
class Problem:
    """A broken rule. ``choices`` are (relative dotted path, message) pairs, best first.

    The loader reports the first choice whose path the user's file sets, so the message points at
    the value the user actually wrote (warning or critical, whichever they changed).
    """

    choices: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        path, message = self.choices[0]
        return f"{path}: {message}" if path else message


class Rules:
    """Collects every broken rule of one model so they are all reported at once."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, message: str, *also: tuple[str, str]) -> None:
        """Record a problem at ``path``; ``also`` lists equivalent wordings at other paths."""
        self.problems.append(Problem(((path, message), *also)))

    def check(self) -> None:
        """Raise one pydantic error carrying every problem, if there are any."""
        if self.problems:
            summary = "; ".join(str(p) for p in self.problems)
            raise PydanticCustomError(
                "policy_rule", "{summary}", {"summary": summary, "problems": tuple(self.problems)}
            )
