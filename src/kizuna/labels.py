"""Human names of the things definitions name: a label per language, with fallbacks.

Definitions (metrics, health measures and groups, lifecycle stages and
milestones) carry an id for machines and optional ``label`` / ``label_ja`` for
people. :class:`Label` is what an edge shows: the label of the user's language,
else the English label, else the id made readable (``seat_utilisation_28d`` →
"Seat utilisation 28d") — a customer's own definition without labels still
reads as words, never as a raw identifier.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Label", "readable"]


def readable(identifier: str) -> str:
    """``identifier`` made readable: underscores and hyphens to spaces, first letter capital."""
    words = identifier.replace("_", " ").replace("-", " ").split()
    text = " ".join(words)
    return text[:1].upper() + text[1:]


@dataclass(frozen=True, slots=True)
class Label:
    """A definition's name in English and Japanese (``ja`` None: falls back to English)."""

    id: str
    en: str
    ja: str | None = None

    @classmethod
    def of(cls, identifier: str, label: str | None = None, label_ja: str | None = None) -> Label:
        """The label of a definition with ``identifier`` and its optional labels."""
        return cls(identifier, label or readable(identifier), label_ja or None)

    def text(self, lang: str) -> str:
        """The label in ``lang`` ("ja" or "en"), falling back to English."""
        if lang == "ja" and self.ja:
            return self.ja
        return self.en

    def __str__(self) -> str:
        return self.en
