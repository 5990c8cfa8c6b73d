"""Render the effective policy as YAML, JSON or Markdown."""

from __future__ import annotations

import json
from typing import Literal

import yaml

from leitstand.policy.markdown import render_markdown
from leitstand.policy.model import Policy

__all__ = ["Format", "Lang", "policy_data", "render_policy"]

Format = Literal["yaml", "json", "md"]
Lang = Literal["de", "en"]


def policy_data(policy: Policy) -> dict[str, object]:
    """Return the policy as plain JSON-compatible data (durations as compact strings)."""
    return policy.model_dump(mode="json")


def render_policy(policy: Policy, fmt: Format = "yaml", lang: Lang = "de") -> str:
    """Render ``policy``; YAML and JSON load back into an equal policy, Markdown is for people."""
    if fmt == "json":
        # Key order is the model's field order and the tables' row order: stable across runs.
        return json.dumps(policy_data(policy), indent=2, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        body = yaml.safe_dump(
            policy_data(policy),
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=False,
            width=100,
        )
        return "# leitstand effective policy (defaults merged with leitstand.yaml)\n" + body
    if fmt == "md":
        return render_markdown(policy, lang)
    raise ValueError(f"unknown format {fmt!r}; expected yaml, json or md")
