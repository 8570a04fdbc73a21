"""Keeping the UI's message catalogs complete (a maintenance tool, not used while serving).

``python -m kizuna.web.catalogs`` extracts every message of the templates and
Python modules of :mod:`kizuna.web` and merges them into each language's
``messages.po`` (new messages are added untranslated, existing translations
kept). A test checks that every extracted message has a Japanese translation.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from kizuna.web.i18n import LANGUAGES

METHOD_MAP = [("templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def web_root() -> Path:
    return Path(str(resources.files("kizuna.web")))


def extract() -> Catalog:
    """Every message the UI can show, with where it appears."""
    catalog = Catalog(project="kizuna", charset="utf-8")
    root = web_root()
    for filename, lineno, message, comments, context in extract_from_dir(
        root, METHOD_MAP, options_map=OPTIONS, keywords=KEYWORDS
    ):
        if filename.startswith("locale") or not message:
            continue
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(lang: str) -> Path:
    return web_root() / "locale" / lang / "LC_MESSAGES" / "messages.po"


def update() -> None:
    """Merge the extracted messages into every language's catalog."""
    template = extract()
    for lang in LANGUAGES:
        path = po_path(lang)
        if path.exists():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=lang)
        else:
            catalog = Catalog(locale=lang, project="kizuna", charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100, omit_header=False, ignore_obsolete=True)


if __name__ == "__main__":
    update()
