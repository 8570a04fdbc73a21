"""``/share/{token}``: the customer's read-only page and its documents — no sign-in.

The token is checked against the store on every request (no cache); an unknown,
expired or revoked token is a plain 404 and every visit is in the audit log.
"""

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse, Response

from kizuna.api.deps import PlatformDep
from kizuna.documents import sharing
from kizuna.documents.service import MEDIA_TYPES

router = APIRouter(prefix="/share", tags=["Share"], include_in_schema=False)

Token = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}


@router.get("/{token}", response_class=HTMLResponse)
def shared_page(platform: PlatformDep, token: Token) -> HTMLResponse:
    page = sharing.shared_page(platform, token)
    return HTMLResponse(sharing.render_shared_page(platform, page, token), headers=_HEADERS)


@router.get("/{token}/documents/{document_id}")
def shared_document(
    platform: PlatformDep, token: Token, document_id: Annotated[int, Path(ge=1)]
) -> Response:
    kept, content = sharing.shared_document(platform, token, document_id)
    return Response(
        content,
        media_type=MEDIA_TYPES[kept.fmt],
        headers={**_HEADERS, "Content-Disposition": f'attachment; filename="{kept.filename}"'},
    )
