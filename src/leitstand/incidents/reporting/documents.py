"""Incident documents: the curated timeline, recovery measures, and HTML and PDF output.

A signed document shows this incident's own story, not every ledger line of its window: its
own alerts and escalations, its phases, actions, notes and reports, and the releases, rollbacks,
changes and flags of its systems and tenants, each once, in order, named in the reader's
language (``incidents.wording.germanize``). Of a release only the decisive steps appear (its
start, the switch of traffic, promote/abort/rollback decisions, failures;
``timeline.routine_step``). Markdown is the source of every document; HTML is that Markdown
with ``static/document.css``, PDF is the HTML printed by WeasyPrint.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from markdown_it import MarkdownIt

from leitstand.errors import Issue, ValidationError
from leitstand.incidents.reporting.timeline import TimelineEntry
from leitstand.incidents.wording import germanize

__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "curate",
    "recovery_measures",
    "render_document",
    "to_html",
    "to_pdf",
]

FORMATS = ("markdown", "html", "pdf")
MEDIA_TYPES = {
    "markdown": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}
_CSS = Path(__file__).resolve().parents[2] / "web" / "static" / "document.css"

#: Own incident events that are bookkeeping, not part of the story.
_BOOKKEEPING = frozenset({"incident.postmortem_generated", "incident.deadline_near"})
#: Flag actions that change what users get (creating or archiving a flag recovers nothing).
_RECOVERING_FLAGS = frozenset(
    {
        "flag.disabled",
        "flag.killed",
        "flag.rollout_changed",
        "flag.targeting_changed",
        "flag.tenants_changed",
    }
)


def curate(
    entries: Iterable[TimelineEntry],
    *,
    incident_id: str,
    alert_subjects: Iterable[str],
    systems: Iterable[str],
    lang: str = "de",
    merged: Iterable[str] = (),
) -> list[TimelineEntry]:
    """This incident's story from its timeline: no unrelated alerts, no repeats, worded.

    ``merged``: ids of duplicates merged into the incident; their own entries are its story too.
    """
    own_alerts = frozenset(alert_subjects)
    own_subjects = {f"incident:{i}" for i in (incident_id, *merged)}
    own_systems = frozenset(systems)
    out: list[TimelineEntry] = []
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        if entry.kind in ("alert", "escalation"):
            keep = entry.subject in own_alerts
        elif entry.kind in ("incident", "note"):
            keep = entry.subject in own_subjects and entry.action not in _BOOKKEEPING
        elif entry.kind in ("release", "rollback", "change"):
            # A release's routine steps (migration, health passes, canary weights, ...) are
            # no part of the story: its start, switch, decisions and failures are.
            keep = entry.system is not None and entry.system in own_systems and not entry.routine
        elif entry.kind == "flag":
            keep = True  # already limited to the incident's window and tenants
        else:
            keep = False  # backups, game days: evidence of their own, not this story
        text_de, text_en = germanize(entry.text_de, "de"), germanize(entry.text_en, "en")
        key = (entry.time[:16], text_de if lang != "en" else text_en)
        if not keep or key in seen:
            continue
        seen.add(key)
        out.append(replace(entry, text_de=text_de, text_en=text_en))
    return out


def recovery_measures(entries: Sequence[TimelineEntry], lang: str = "de") -> list[str]:
    """Field 3.33: rollbacks and flag switches, each named once, in the order taken."""
    measures: list[str] = []
    for entry in entries:
        if entry.kind == "rollback" or entry.action in _RECOVERING_FLAGS:
            text = germanize(entry.text(lang), lang)
            if text not in measures:
                measures.append(text)
    return measures


_MD = MarkdownIt("js-default")  # no raw HTML from incident text; tables on


def to_html(markdown: str, *, title: str, lang: str = "de") -> str:
    """A standalone HTML document of ``markdown`` (styles from a static file, CSP-safe)."""
    body = _MD.render(markdown)
    return (
        f'<!DOCTYPE html>\n<html lang="{html.escape(lang)}">\n<head>\n'
        f'<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
        '<link rel="stylesheet" href="/static/document.css">\n'
        f'</head>\n<body>\n<main class="document">\n{body}</main>\n</body>\n</html>\n'
    )


def to_pdf(document: str) -> bytes:
    """The HTML document printed to PDF by WeasyPrint (fonts from the system, nothing fetched)."""
    with warnings.catch_warnings():
        # Imported here: loading pango takes a moment. WeasyPrint warns at import when the
        # system lacks HarfBuzz-Subset (PDFs are still complete, only fonts are not subset).
        warnings.filterwarnings("ignore", "HarfBuzz-Subset", DeprecationWarning)
        from weasyprint import CSS, HTML

    def no_fetch(url: str, timeout: int = 10, ssl_context: object = None) -> dict[str, object]:
        raise ValueError(f"documents load nothing from outside ({url})")

    pdf = HTML(string=document, url_fetcher=no_fetch).write_pdf(
        stylesheets=[CSS(filename=str(_CSS))]
    )
    if pdf is None:  # pragma: no cover - write_pdf without a target always returns bytes
        raise RuntimeError("WeasyPrint returned no PDF")
    return bytes(pdf)


def render_document(markdown: str, fmt: str, *, title: str, lang: str = "de") -> bytes:
    """``markdown`` as Markdown, HTML or PDF bytes."""
    if fmt not in FORMATS:
        raise ValidationError([Issue("format", f"one of {', '.join(FORMATS)} (got {fmt!r})")])
    if fmt == "markdown":
        return markdown.encode()
    page = to_html(markdown, title=title, lang=lang)
    return page.encode() if fmt == "html" else to_pdf(page)
