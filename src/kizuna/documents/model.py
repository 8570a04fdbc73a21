"""A document as data: a title page and sections of paragraphs, tables, bullets and images.

Every format renders the same :class:`Document` (HTML/PDF through a Jinja2
template, decks one slide per section), so the editions and languages are
decided once, when the document is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

KINDS = ("plan", "meeting", "ebr")
FORMATS = ("html", "pdf", "pptx")
#: Formats each kind comes in (all three, so a team can edit any as a deck).
KIND_FORMATS: dict[str, tuple[str, ...]] = {
    "plan": FORMATS,
    "meeting": FORMATS,
    "ebr": FORMATS,
}


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass
class Image:
    png: bytes
    alt: str


@dataclass
class Section:
    key: str
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    internal: bool = False  # only in the internal edition (marked as such)


@dataclass
class Document:
    kind: str
    language: str
    internal: bool
    as_of: date
    account_id: str
    account_name: str
    title: str
    subtitle: str
    edition_label: str
    vendor_name: str
    sections: list[Section] = field(default_factory=list)

    def text(self) -> str:
        """Every word of the document (tests and search)."""
        parts = [self.title, self.subtitle, self.account_name]
        for s in self.sections:
            parts.append(s.heading)
            parts.extend(s.paragraphs)
            parts.extend(s.bullets)
            for t in s.tables:
                parts.extend(t.headers)
                parts.extend(c for row in t.rows for c in row)
        return "\n".join(parts)
