"""Provider token formats detect-secrets does not know, as detect-secrets plugins.

Loaded by the scan's child process from this file (``file://`` plugin path), so they run in the
same single pass over each file as detect-secrets' own detectors and honour its filters (inline
``pragma: allowlist secret`` included).
"""

# ruff: noqa: S105, RUF012 - secret type names and detect-secrets' class-level denylists

from __future__ import annotations

import re

from detect_secrets.plugins.base import RegexBasedDetector

__all__ = [
    "AnthropicKeyDetector",
    "AzureEntraSecretDetector",
    "GitHubFineGrainedDetector",
    "GoogleApiKeyDetector",
    "GoogleOAuthSecretDetector",
    "HuggingFaceTokenDetector",
    "SlackWebhookDetector",
]


class GoogleApiKeyDetector(RegexBasedDetector):
    """Google API keys (Maps, Firebase, Cloud)."""

    secret_type = "Google API Key"
    denylist = [re.compile(r"\bAIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])")]


class GoogleOAuthSecretDetector(RegexBasedDetector):
    """Google OAuth client secrets."""

    secret_type = "Google OAuth Client Secret"
    denylist = [re.compile(r"\bGOCSPX-[0-9A-Za-z_\-]{28}(?![0-9A-Za-z_\-])")]


class GitHubFineGrainedDetector(RegexBasedDetector):
    """GitHub fine-grained personal access tokens."""

    secret_type = "GitHub Fine-grained Token"
    denylist = [re.compile(r"\bgithub_pat_[0-9A-Za-z_]{82}(?![0-9A-Za-z_])")]


class SlackWebhookDetector(RegexBasedDetector):
    """Slack incoming webhook URLs (the URL is the credential)."""

    secret_type = "Slack Webhook"
    denylist = [
        re.compile(
            r"https://hooks\.slack\.com/services/T[0-9A-Z]{8,12}/B[0-9A-Z]{8,12}/[0-9A-Za-z]{24}"
        )
    ]


class AzureEntraSecretDetector(RegexBasedDetector):
    """Microsoft Entra ID (Azure AD) application client secrets."""

    secret_type = "Azure Entra Client Secret"
    denylist = [
        re.compile(
            r"(?<![0-9A-Za-z_~.\-])[0-9A-Za-z_~.\-]{3}\dQ~[0-9A-Za-z_~.\-]{31,34}(?![0-9A-Za-z_~.\-])"
        )
    ]


class AnthropicKeyDetector(RegexBasedDetector):
    """Anthropic API keys."""

    secret_type = "Anthropic API Key"
    denylist = [re.compile(r"\bsk-ant-(?:api|admin)\d{2}-[0-9A-Za-z_\-]{80,100}")]


class HuggingFaceTokenDetector(RegexBasedDetector):
    """Hugging Face user access tokens."""

    secret_type = "Hugging Face Token"
    denylist = [re.compile(r"\bhf_[A-Za-z]{34}(?![0-9A-Za-z])")]
