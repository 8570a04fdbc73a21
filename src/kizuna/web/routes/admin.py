"""Admin: definitions (shown and validated), users, API tokens, event sources, CSV import."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, UploadFile
from fastapi.responses import Response

from kizuna.auth.policy import can_administer
from kizuna.errors import ImportRejected, KizunaError, PermissionDenied, Problem
from kizuna.web import admin_views
from kizuna.web.pages import NavEntry, PageContext, login_required, render, require_csrf

router = APIRouter()
NAV = (NavEntry("admin", "Admin", order=90, admin_only=True),)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def admin_required(ctx: Annotated[PageContext, Depends(login_required)]) -> PageContext:
    if not can_administer(ctx.caller):
        raise PermissionDenied("only an admin may open the admin pages", code="admin_only")
    return ctx


def _page(ctx: PageContext, status_code: int = 200, **extra: object) -> Response:
    data = admin_views.admin_overview(ctx.platform)
    defaults: dict[str, object] = {
        "import_report": None,
        "import_problems": [],
        "import_errors": {},
        "new_secret": None,
        "form_errors": {},
    }
    defaults.update(extra)
    return render(ctx, "admin.html", status_code=status_code, data=data, **defaults)


@router.get("/admin", name="admin")
def admin_page(ctx: Annotated[PageContext, Depends(admin_required)]) -> Response:
    return _page(ctx)


def _upload_name(filename: str | None) -> str:
    """A safe local name for an uploaded file: its base name without control or path
    characters, at most 100 characters, suffix kept (the browser decides the name)."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c if c.isprintable() and c not in '<>:"|?*' else "_" for c in base).strip()
    suffix = Path(base).suffix[:10] if base not in ("", ".", "..") else ""
    stem = base[: len(base) - len(suffix)] if suffix else base
    stem = stem.strip(". ")[:90] or "upload"
    return stem + suffix


@router.post("/admin/import", name="admin_import")
async def admin_import(
    ctx: Annotated[PageContext, Depends(admin_required)],
    csrf_token: Annotated[str, Form()] = "",
    table: Annotated[str, Form()] = "",
    file: UploadFile | None = None,
) -> Response:
    require_csrf(ctx, csrf_token)
    errors: dict[str, str] = {}
    if table not in admin_views.IMPORT_TABLES:
        errors["table"] = "Choose a table."
    content = await file.read(MAX_UPLOAD_BYTES + 1) if file is not None else b""
    name = _upload_name(file.filename) if file is not None else ""
    if not content:
        errors["file"] = "Choose a non-empty CSV or JSON Lines file."
    elif len(content) > MAX_UPLOAD_BYTES:
        errors["file"] = "The file is larger than 50 MB: use the command line."
    elif Path(name).suffix.lower() not in (".csv", ".jsonl", ".ndjson"):
        errors["file"] = "Use a .csv or .jsonl file."
    if errors:
        return _page(ctx, status_code=422, import_errors=errors)
    with tempfile.TemporaryDirectory(prefix="kizuna-upload-") as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        try:
            report = admin_views.run_import(ctx.platform, table, path)
        except ImportRejected as exc:
            return _page(ctx, status_code=422, import_problems=list(exc.problems), import_file=name)
        except KizunaError as exc:
            problem = Problem(exc.message, code=exc.code, params=exc.params)
            return _page(ctx, status_code=422, import_errors={"file": problem})
    ctx.figures.invalidate()
    return _page(ctx, import_report=report)


@router.post("/admin/tokens", name="admin_token_create")
def admin_token_create(
    ctx: Annotated[PageContext, Depends(admin_required)],
    csrf_token: Annotated[str, Form()] = "",
    member_id: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(ctx, csrf_token)
    secret, errors = admin_views.create_token(ctx.platform, ctx.caller, member_id, name)
    if errors:
        return _page(ctx, status_code=422, form_errors=errors)
    return _page(ctx, new_secret=secret)


@router.post("/admin/tokens/{token_id}/revoke", name="admin_token_revoke")
def admin_token_revoke(
    token_id: str,
    ctx: Annotated[PageContext, Depends(admin_required)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(ctx, csrf_token)
    admin_views.revoke_token(ctx.platform, token_id)
    return _page(ctx)


@router.post("/admin/sources", name="admin_source_create")
def admin_source_create(
    ctx: Annotated[PageContext, Depends(admin_required)],
    csrf_token: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(ctx, csrf_token)
    secret, errors = admin_views.add_source(ctx.platform, name)
    if errors:
        return _page(ctx, status_code=422, form_errors=errors)
    return _page(ctx, new_secret=secret)


@router.post("/admin/sources/{source_id}/revoke", name="admin_source_revoke")
def admin_source_revoke(
    source_id: str,
    ctx: Annotated[PageContext, Depends(admin_required)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(ctx, csrf_token)
    admin_views.revoke_source(ctx.platform, source_id)
    return _page(ctx)
