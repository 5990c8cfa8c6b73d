"""The secret scan's child process: detect-secrets over the files named on stdin, JSON out.

Kept apart from ``leitstand.gates.secrets`` so that the child imports detect-secrets and the
pure rules (``secretrules``) only: its start-up (and each forked worker's) stays at the
library's own. One pass per file runs detect-secrets' detectors and filters (inline
``pragma: allowlist secret`` included) plus leitstand's extra provider formats
(``secretplugins``); each finding leaves this process classified (kind, provider), judged as a
placeholder or not, with a redacted excerpt and a fingerprint. The secret itself never does.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from leitstand.gates.secretrules import fingerprint, kind_of, placeholder_reason, redact

_EXTRA = Path(__file__).with_name("secretplugins.py")


def _settings() -> dict[str, Any]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    mapping: dict[str, type[Any]] = get_mapping_from_secret_type_to_class()
    builtin = [{"name": plugin.__name__} for plugin in mapping.values()]
    extra = [
        {"name": name, "path": f"file://{_EXTRA}"}
        for name in (
            "AnthropicKeyDetector",
            "AzureEntraSecretDetector",
            "GitHubFineGrainedDetector",
            "GoogleApiKeyDetector",
            "GoogleOAuthSecretDetector",
            "HuggingFaceTokenDetector",
            "SlackWebhookDetector",
        )
    ]
    return {"plugins_used": builtin + extra}


def _install_line_gate() -> None:
    """One regex pass per line decides whether detect-secrets' pure regex detectors run at all.

    detect-secrets calls every detector on every line through its dependency injection, which
    costs more than the detectors' regular expressions themselves. A line that none of the pure
    regex detectors' patterns matches (one combined search) yields nothing from them, so they
    are skipped for it; the other detectors (keyword, entropy, JWT) run on every line as before.
    Findings are the same as detect-secrets' own scan.
    """
    import re

    from detect_secrets.core import scan
    from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector
    from detect_secrets.settings import get_plugins
    from detect_secrets.util.code_snippet import get_code_snippet

    def pure(plugin: BasePlugin) -> bool:
        kind = type(plugin)
        return (
            isinstance(plugin, RegexBasedDetector)
            and kind.analyze_string is RegexBasedDetector.analyze_string
            and kind.analyze_line is BasePlugin.analyze_line
            and all(not (r.flags & ~(re.IGNORECASE | re.UNICODE)) for r in plugin.denylist)
        )

    def split() -> tuple[list[BasePlugin], list[BasePlugin], re.Pattern[str] | None]:
        plugins = [p for p in get_plugins() if p.secret_type not in _NOT_SECRETS]
        gated = [p for p in plugins if pure(p)]
        always = [p for p in plugins if not pure(p)]
        parts = [
            f"(?i:{r.pattern})" if r.flags & re.IGNORECASE else f"(?:{r.pattern})"
            for p in gated
            for r in p.denylist
        ]
        return gated, always, re.compile("|".join(parts)) if parts else None

    cached: list[tuple[list[BasePlugin], list[BasePlugin], re.Pattern[str] | None]] = []

    def process(lines: list[tuple[int, str]], filename: str) -> Iterator[Any]:
        if not cached:
            cached.append(split())
        gated, always, gate = cached[0]
        content = [line[1] for line in lines]
        for number, raw in lines:
            line = raw.rstrip()
            context = get_code_snippet(lines=content, line_number=number)
            if scan._is_filtered_out(
                required_filter_parameters=["line"], filename=filename, line=line, context=context
            ):
                continue
            plugins = always + gated if gate is not None and gate.search(line) else always
            for plugin in plugins:
                for secret in scan._scan_line(
                    plugin=plugin, filename=filename, line=line, line_number=number, context=context
                ):
                    if not scan._is_filtered_out(
                        required_filter_parameters=["context"],
                        filename=secret.filename,
                        secret=secret.secret_value,
                        plugin=plugin,
                        line=line,
                        context=context,
                    ):
                        yield secret

    scan._process_line_based_plugins = process  # type: ignore[assignment]


# Not secrets: an IP address is no credential (detect-secrets 1.5 reports public IPs).
_NOT_SECRETS = {"Public IP (ipv4)"}


def main(root: str) -> None:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.core.secrets_collection import SecretsCollection
    from detect_secrets.settings import transient_settings

    files = [line for line in sys.stdin.read().splitlines() if line]
    collection = SecretsCollection(root=root)
    with transient_settings(_settings()):
        # The type -> plugin mapping is cached; read it again now that it includes ours.
        get_mapping_from_secret_type_to_class.cache_clear()
        _install_line_gate()
        if len(files) > 1:
            collection.scan_files(*files, num_processors=os.cpu_count() or 1)
        elif files:
            collection.scan_file(files[0])
    lines: dict[str, list[str]] = {}
    out = []
    for filename, secret in collection:
        name = Path(filename).as_posix()
        if name not in lines:
            try:
                text = (Path(root) / filename).read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            lines[name] = text.splitlines()
        content = lines[name]
        index = secret.line_number - 1
        line = content[index] if 0 <= index < len(content) else ""
        kind, provider = kind_of(secret.type)
        value = secret.secret_value
        out.append(
            {
                "file": name,
                "line": secret.line_number,
                "type": secret.type,
                "hashed_secret": secret.secret_hash,
                "kind": kind,
                "provider": provider,
                "placeholder": placeholder_reason(kind, value, line, content[index + 1 :]),
                "excerpt": redact(line, value),
                "fingerprint": fingerprint(name, secret.type, secret.secret_hash),
            }
        )
    out.sort(key=lambda item: (item["file"], item["line"], item["type"]))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
    sys.stdout.flush()
