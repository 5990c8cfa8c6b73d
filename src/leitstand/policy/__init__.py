"""The operations policy as data: typed models, the seed's defaults, loading and validation.

Every threshold, table and rule of the operations policy lives here; other services read them
from ``Policy`` instead of hard-coding numbers.
"""

from __future__ import annotations

from leitstand.policy.base import Frequency, Role, Text
from leitstand.policy.continuity import Priority, ServicePolicy
from leitstand.policy.durations import (
    Duration,
    DurationOrUnlimited,
    PositiveDuration,
    format_duration,
    parse_duration,
)
from leitstand.policy.loader import (
    check_policy_text,
    find_policy_file,
    load_policy,
    load_policy_text,
    validate_policy_file,
)
from leitstand.policy.model import Policy, default_policy
from leitstand.policy.render import render_policy
from leitstand.policy.starter import starter_yaml, write_starter
from leitstand.policy.tenants import EvidencePolicy, TenantPolicy

__all__ = [
    "Duration",
    "DurationOrUnlimited",
    "EvidencePolicy",
    "Frequency",
    "Policy",
    "PositiveDuration",
    "Priority",
    "Role",
    "ServicePolicy",
    "TenantPolicy",
    "Text",
    "check_policy_text",
    "default_policy",
    "find_policy_file",
    "format_duration",
    "load_policy",
    "load_policy_text",
    "parse_duration",
    "render_policy",
    "starter_yaml",
    "validate_policy_file",
    "write_starter",
]
