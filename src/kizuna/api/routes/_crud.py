"""A router factory for customer records: list, get, create, update, delete.

No ``from __future__ import annotations`` here: FastAPI reads the handlers'
annotations at runtime, and they refer to the classes passed in.
"""

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, create_model, field_validator

from kizuna.api.deps import CallerDep, PlatformDep
from kizuna.api.params import ID_PATTERN, RecordId
from kizuna.customers import service


class ListQuery(BaseModel):
    """Pagination and sorting shared by every listing."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(100, ge=1, le=1000, description="Page size.")
    offset: int = Field(0, ge=0, le=10_000_000, description="Records to skip.")
    sort: str | None = Field(
        None, max_length=64, description="Field to sort by; prefix '-' for descending."
    )

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            if "\x00" in value:
                raise ValueError("must not contain NUL characters")
            if info.field_name in _ID_FILTERS and not re.match(ID_PATTERN, value):
                raise ValueError("an id must not contain control characters")
        return value


def model_json(model: type[BaseModel], row: Any, status_code: int = 200) -> Response:
    """``row`` validated once by ``model`` and written as JSON by pydantic's serialiser.

    Returning the model would make FastAPI validate and encode it a second time
    through ``response_model`` (kept for the OpenAPI document); see bench/api.
    """
    body = model.model_validate(row).model_dump_json()
    return Response(body, status_code=status_code, media_type="application/json")


_PAGE_FIELDS = ("limit", "offset", "sort", "q")
_ID_FILTERS = frozenset(
    {"account_id", "owner_id", "parent_id", "contact_id", "author_id", "meeting_series_id"}
)


def crud_router(
    resource: str,
    *,
    tag: str,
    model_in: type[BaseModel],
    model_patch: type[BaseModel],
    model_out: type[BaseModel],
    query_model: type[ListQuery],
    deletable: bool = True,
) -> APIRouter:
    """Routes for one resource under ``/{resource}``; handlers only call services."""
    router = APIRouter(prefix=f"/{resource}", tags=[tag])
    page_model = create_model(
        f"{model_out.__name__.removesuffix('Out')}Page",
        items=(list[model_out], ...),  # type: ignore[valid-type]
        total=(int, ...),
        limit=(int, ...),
        offset=(int, ...),
    )
    singular = tag.lower()

    @router.get("", response_model=page_model, summary=f"List {resource}")
    def list_records(
        platform: PlatformDep,
        caller: CallerDep,
        query: Annotated[query_model, Query()],  # type: ignore[valid-type]
    ) -> Any:
        page_query: ListQuery = query
        values = page_query.model_dump()
        filters = {k: v for k, v in values.items() if k not in _PAGE_FIELDS}
        page = service.list_records(
            platform,
            caller,
            resource,
            filters=filters,
            search=values.get("q"),
            sort=page_query.sort,
            limit=page_query.limit,
            offset=page_query.offset,
        )
        listing = page_model(
            items=[model_out.model_validate(r) for r in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )
        return Response(listing.model_dump_json(), media_type="application/json")

    @router.get(
        "/{record_id}",
        response_model=model_out,
        summary=f"Get one {singular}",
        responses={404: {"description": "Unknown, or outside the caller's book"}},
    )
    def get_record(platform: PlatformDep, caller: CallerDep, record_id: RecordId) -> Any:
        row = service.get_record(platform, caller, resource, record_id)
        return model_json(model_out, row)

    @router.post(
        "",
        response_model=model_out,
        status_code=status.HTTP_201_CREATED,
        summary=f"Create a {singular}",
    )
    def create_record(
        platform: PlatformDep,
        caller: CallerDep,
        body: model_in,  # type: ignore[valid-type]
    ) -> Any:
        row = service.create_record(platform, caller, resource, body)
        return model_json(model_out, row, status.HTTP_201_CREATED)

    @router.patch("/{record_id}", response_model=model_out, summary=f"Update a {singular}")
    def update_record(
        platform: PlatformDep,
        caller: CallerDep,
        record_id: RecordId,
        body: model_patch,  # type: ignore[valid-type]
    ) -> Any:
        row = service.update_record(platform, caller, resource, record_id, body)
        return model_json(model_out, row)

    if deletable:

        @router.delete(
            "/{record_id}",
            status_code=status.HTTP_204_NO_CONTENT,
            response_class=Response,
            summary=f"Delete a {singular}",
        )
        def delete_record(platform: PlatformDep, caller: CallerDep, record_id: RecordId) -> None:
            service.delete_record(platform, caller, resource, record_id)

    return router
