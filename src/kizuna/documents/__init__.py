"""Customer-facing documents (issue 16): the success plan, meeting reports and the EBR.

Framework-free: documents are built as data (:mod:`kizuna.documents.build`),
rendered as HTML, PDF or PowerPoint (:mod:`kizuna.documents.render`), kept in
the data folder and shared read-only with the customer
(:mod:`kizuna.documents.sharing`). See docs/documents.md.
"""

from kizuna.documents.charts import MissingCjkFont, cjk_font
from kizuna.documents.facts import SeriesCache
from kizuna.documents.model import FORMATS, KIND_FORMATS, KINDS, Document
from kizuna.documents.service import (
    KeptDocument,
    Rendered,
    build_document,
    check_request,
    kept_file,
    latest_documents,
    render,
)

__all__ = [
    "FORMATS",
    "KINDS",
    "KIND_FORMATS",
    "Document",
    "KeptDocument",
    "MissingCjkFont",
    "Rendered",
    "SeriesCache",
    "build_document",
    "check_request",
    "cjk_font",
    "kept_file",
    "latest_documents",
    "render",
]
