"""The commented starter leitstand.yaml that ``leitstand init`` writes."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import yaml

from leitstand.errors import ConfigError, ConflictError
from leitstand.policy.loader import FILE_NAME
from leitstand.policy.model import default_policy

__all__ = ["starter_yaml", "write_starter"]

_HEADER = """\
# leitstand.yaml: your operations policy.
#
# Everything you do not set here keeps its built-in default: the tables of the operations policy
# (systems, thresholds, escalation, backups, incidents, changes, pipeline gates, retention, ...).
# Mappings merge key by key with the defaults; lists and single values replace them. The
# `tenants` table is the exception: the tenants listed here replace the built-in examples.
#
#   leitstand policy show               the complete effective policy (--format yaml|json|md)
#   leitstand policy validate FILE      check this file; every problem with line and column
#
# Durations: 30s, 15m, 4h, 7d, 2w, 5y (a year is 365 days) or ISO 8601 such as PT15M.
# Roles: devops, developer, oncall, compliance_officer, security, qa, product_owner,
#        management, auditor.
"""

_MONITORING = """\

# Thresholds: override single values; everything else about a metric keeps its default.
# Units are fixed per metric (cpu: percent, response_time_p95: ms, failed_logins: per minute
# per IP). For "above" metrics, critical must be greater than warning; for "below" metrics
# (certificate_expiry, contract_processing) it must be smaller.
monitoring:
  metrics:
    cpu:
      warning: 70
      critical: 90
    # response_time_p95:
    #   critical: 1500

# More examples, all commented out:
#
# alerting:
#   ack_timeout: 15m          # level 2 escalates to level 3 when not acknowledged in time
#
# deployment:
#   default_strategy: canary
#   canary:
#     steps: [5, 25, 50, 100] # percent of traffic; strictly increasing, ending at 100
#
# pipeline:
#   test:
#     min_coverage: 85
#
# logs:
#   retention:
#     application:
#       period: 180d          # audit and security: at least logs.legal_minimums (5y, 3y)
"""


def _block(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def starter_yaml() -> str:
    """Return the commented starter leitstand.yaml: the seed's systems and example tenants."""
    policy = default_policy()
    services = {
        key: {
            k: v
            for k, v in service.model_dump(mode="json").items()
            if k in ("name", "rto", "rpo", "priority")
        }
        for key, service in policy.services.items()
    }
    tenants = {
        key: tenant.model_dump(mode="json", exclude_defaults=True)
        for key, tenant in policy.tenants.items()
    }
    return (
        _HEADER
        + "\n# Systems with their recovery time (rto) and recovery point (rpo) objectives.\n"
        + "# priority: critical, high or normal.\n"
        + _block({"services": services})
        + "\n# Tenants (broker houses). These are fictional examples: replace them with your own.\n"
        + "# services: the systems a tenant uses (ids from the services above).\n"
        + _block({"tenants": tenants})
        + _MONITORING
    )


def write_starter(directory: Path, *, force: bool) -> Path:
    """Write the starter leitstand.yaml into ``directory`` atomically; refuse to overwrite."""
    target = directory / FILE_NAME
    if target.exists() and not force:
        raise ConflictError(f"{target} already exists; use --force to overwrite it")
    try:
        fd, temp_name = tempfile.mkstemp(dir=directory, prefix=f".{FILE_NAME}.", suffix=".tmp")
    except OSError as err:
        raise ConfigError(f"cannot write {target}: {err.strerror or err}") from None
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(starter_yaml())
            handle.flush()
            os.fsync(handle.fileno())
        temp.chmod(0o644)  # mkstemp creates 0600; a policy file is not secret
        if force:
            temp.replace(target)
        else:
            # A hard link fails if the target appeared meanwhile: no silent overwrite.
            try:
                target.hardlink_to(temp)
            except FileExistsError:
                raise ConflictError(
                    f"{target} already exists; use --force to overwrite it"
                ) from None
            except OSError:
                temp.replace(target)  # file systems without hard links
    except OSError as err:
        raise ConfigError(f"cannot write {target}: {err.strerror or err}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return target
