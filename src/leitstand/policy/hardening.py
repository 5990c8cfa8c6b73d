"""Host and container hardening baselines, and the infrastructure-as-code principles."""

from __future__ import annotations

from leitstand.policy.base import Count, Flag, PolicyModel, Text

__all__ = ["HardeningItem", "HardeningPolicy", "ImageScanning", "InfrastructureAsCode", "Principle"]


class HardeningItem(PolicyModel):
    """One baseline measure (title as in the seed, description)."""

    title: Text
    description: Text
    required: Flag = True


class ImageScanning(PolicyModel):
    """Container image scanning in CI and the findings it tolerates."""

    tool: str
    max_critical: Count
    max_high: Count


class HardeningPolicy(PolicyModel):
    """Host baseline (BSI IT-Grundschutz / CIS Benchmarks) and container practices."""

    standard: str
    host: dict[str, HardeningItem]
    container: dict[str, HardeningItem]
    image_scanning: ImageScanning


class Principle(PolicyModel):
    """A principle with a short title and what it means."""

    title: Text
    description: Text


class InfrastructureAsCode(PolicyModel):
    """The infrastructure-as-code principles."""

    principles: dict[str, Principle]
