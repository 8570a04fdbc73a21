"""Keeping the documents' message catalog complete (a maintenance tool, not used to render).

``python -m kizuna.documents.catalogs`` extracts every message of this package
and merges it into each language's ``messages.po``, keeping translations.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from kizuna.documents.i18n import LANGUAGES

METHOD_MAP = [("templates/**.j2", "jinja2"), ("**.py", "python")]
OPTIONS = {"templates/**.j2": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {"_": None, "N_": None}


def root() -> Path:
    return Path(str(resources.files("kizuna.documents")))


def extract() -> Catalog:
    """Every message a document can show."""
    catalog = Catalog(project="kizuna", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        root(), METHOD_MAP, options_map=OPTIONS, keywords=KEYWORDS
    ):
        if filename.startswith("locale") or not message:
            continue
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(lang: str) -> Path:
    return root() / "locale" / lang / "LC_MESSAGES" / "messages.po"


def update() -> None:
    template = extract()
    for lang in LANGUAGES:
        if lang == "en":
            continue
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
