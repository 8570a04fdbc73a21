"""Customer documents and share links for signed-in callers.

``GET /accounts/{id}/documents/{kind}`` renders and serves a document;
``/share-links`` creates, lists and revokes read-only links. Roles, per-account
scope and the audit log as every record route (see :mod:`kizuna.documents.sharing`).
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from kizuna.api.deps import CallerDep, PlatformDep
from kizuna.api.encoding import ResultResponse
from kizuna.api.params import ID_PATTERN, AccountId, AsOf, RecordId
from kizuna.documents import sharing

router = APIRouter(tags=["Documents"], default_response_class=ResultResponse)


@router.get(
    "/accounts/{account_id}/documents/{kind}",
    summary="A document of the account (success plan, meeting report, EBR) as a file",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "text/html": {}}}},
)
def document(
    platform: PlatformDep,
    caller: CallerDep,
    account_id: AccountId,
    kind: Literal["plan", "meeting", "ebr"],
    fmt: Annotated[Literal["html", "pdf", "pptx"], Query(alias="format")] = "pdf",
    lang: Annotated[Literal["en", "ja"] | None, Query(description="Default: the plan's.")] = None,
    internal: Annotated[bool, Query(description="The internal edition.")] = False,
    as_of: AsOf = None,
) -> Response:
    doc = sharing.render_for(
        platform, caller, kind, account_id, fmt=fmt, as_of=as_of, lang=lang, internal=internal
    )
    return Response(
        doc.content,
        media_type=doc.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{doc.filename}"',
            "Cache-Control": "no-store",
        },
    )


class ShareCreate(BaseModel):
    days: int = Field(30, ge=1, le=sharing.MAX_DAYS, description="Days the link stays valid.")
    contact_id: str | None = Field(None, min_length=1, max_length=64, pattern=ID_PATTERN)


@router.post(
    "/accounts/{account_id}/share-links",
    status_code=status.HTTP_201_CREATED,
    summary="Create a read-only link for the customer (the URL is shown only once)",
)
def create_link(
    platform: PlatformDep, caller: CallerDep, account_id: AccountId, body: ShareCreate
) -> Any:
    new = sharing.share_for(platform, caller, account_id, body.days, body.contact_id)
    return ResultResponse(
        {
            "id": new.info.id,
            "url": new.url,
            "account_id": account_id,
            "expires_at": new.info.expires_at,
        },
        status_code=201,
    )


@router.get("/share-links", summary="Share links of the accounts the caller may read")
def list_links(
    platform: PlatformDep,
    caller: CallerDep,
    account_id: Annotated[str | None, Query(max_length=64, pattern=ID_PATTERN)] = None,
) -> Any:
    return ResultResponse(sharing.readable_shares(platform, caller, account_id))


@router.delete("/share-links/{record_id}", summary="Revoke a share link now")
def revoke_link(platform: PlatformDep, caller: CallerDep, record_id: RecordId) -> Any:
    visible = {s.id for s in sharing.readable_shares(platform, caller, None)}
    if record_id not in visible:
        from kizuna.errors import NotFound

        raise NotFound(f"no share link {record_id}")
    return ResultResponse(sharing.revoke_share(platform, record_id, caller=caller))
