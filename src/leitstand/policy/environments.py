"""Environments (development, staging, production); real data stays in production."""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import model_validator

from leitstand.policy.base import Flag, PolicyModel, RoleList, Rules, Text

__all__ = ["DataClass", "EnvironmentPolicy"]


class DataClass(StrEnum):
    """What data an environment holds."""

    SYNTHETIC = "synthetic"
    ANONYMISED_COPY = "anonymised_copy"
    REAL = "real"


class EnvironmentPolicy(PolicyModel):
    """An environment: its purpose, data and who has access (production: the pipeline only)."""

    name: Text
    purpose: Text
    production: Flag
    data: DataClass
    access: RoleList
    pipeline_only: Flag

    @model_validator(mode="after")
    def _no_real_data_outside_production(self) -> Self:
        # The seed: production data must NEVER be used in development or staging.
        rules = Rules()
        if not self.production and self.data is DataClass.REAL:
            rules.add(
                "data",
                "synthetic or anonymised_copy; production data never leaves production "
                "(got 'real')",
            )
        if self.pipeline_only and self.access:
            rules.add(
                "access",
                "no direct access when pipeline_only is true "
                f"(got {', '.join(r.value for r in self.access)})",
            )
        rules.check()
        return self
