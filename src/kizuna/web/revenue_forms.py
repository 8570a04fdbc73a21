"""The pipeline's forms: open an opportunity, move it, win it, lose it, give it to someone.

Each parser reads a posted form and returns the service call's arguments, or the
problems by field (English msgids, translated when the page renders them). The
services check the rest (the account's book, the stage, the owner) and their
problems are shown in the form too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from kizuna.errors import Conflict, InvalidInput, KizunaError, PermissionDenied, Problem
from kizuna.revenue import RevenueDefinition
from kizuna.web.i18n import N_

TYPES = ("renewal", "upsell", "cross_sell", "downsell")
_AMOUNT_LIMIT = Decimal("1e13")
_MAX_TEXT = 2000
_CENT = Decimal("0.01")

#: Messages a service's problem maps to, by field (its own words are English only).
SERVICE_FIELD_MESSAGES = {
    "stage": N_("Choose an open stage of the pipeline."),
    "owner_id": N_("Choose an active team member."),
    "arr_change": N_(
        "A downsell's ARR change must be zero or less; an upsell's or cross-sell's zero or more."
    ),
    "probability": N_("Enter a probability from 0 to 100 %."),
    "reason": N_("Say why it was lost."),
}


@dataclass
class Parsed:
    """A form's values for the service, the problems by field and what was typed."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    typed: dict[str, str] = field(default_factory=dict)

    def checked(self) -> dict[str, Any]:
        """The values for the service; :class:`InvalidInput` when the form has problems
        (the page shows ``errors``, the form's own words)."""
        if self.errors:
            raise InvalidInput("the form is not valid")
        return self.values


def _text(form: Any, name: str) -> str:
    return str(form.get(name) or "").strip()


def _day(p: Parsed, name: str, text: str, *, required: bool) -> date | None:
    if not text:
        if required:
            p.errors[name] = N_("Enter a date.")
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        p.errors[name] = N_("Enter a date as YYYY-MM-DD.")
        return None


def _amount(p: Parsed, name: str, text: str) -> Decimal | None:
    if not text:
        return None
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        p.errors[name] = N_("Enter an amount, e.g. 12000 or 12000.50.")
        return None
    if not value.is_finite() or abs(value) >= _AMOUNT_LIMIT or value != value.quantize(_CENT):
        p.errors[name] = N_("Enter an amount, e.g. 12000 or 12000.50.")
        return None
    return value


def parse_new(form: Any, definition: RevenueDefinition, owners: set[str]) -> Parsed:
    """The "new opportunity" form."""
    p = Parsed(typed={k: str(v) for k, v in form.items() if k != "csrf_token"})
    account = _text(form, "account_id")
    if not account:
        p.errors["account_id"] = N_("Choose an account.")
    elif len(account) > 64:
        p.errors["account_id"] = N_("No such account in your book.")
    kind = _text(form, "type")
    if kind not in TYPES:
        p.errors["type"] = N_("Choose a type: renewal, upsell, cross-sell or downsell.")
    change = _amount(p, "arr_change", _text(form, "arr_change"))
    total = _amount(p, "arr_total", _text(form, "arr_total"))
    if total is not None and total < 0:
        p.errors["arr_total"] = N_("The ARR total cannot be negative.")
    if kind == "renewal" and total is None and change is None and "arr_total" not in p.errors:
        p.errors["arr_total"] = N_("Enter the ARR this renewal keeps.")
    if kind in ("upsell", "cross_sell") and not change and "arr_change" not in p.errors:
        p.errors["arr_change"] = N_("Enter the ARR it adds (more than zero).")
    if kind == "downsell" and change is not None and change > 0:
        p.errors["arr_change"] = N_("A downsell's ARR change must be zero or less.")
    if kind in ("upsell", "cross_sell") and change is not None and change < 0:
        p.errors["arr_change"] = N_("Enter the ARR it adds (more than zero).")
    close = _day(p, "expected_close_date", _text(form, "expected_close_date"), required=True)
    products = [x.strip() for x in _text(form, "products").split(",") if x.strip()]
    if len(products) > 50 or any(len(x) > 128 for x in products):
        p.errors["products"] = N_("At most 50 products, each up to 128 characters.")
    stage = _text(form, "stage") or None
    open_stages = {s.id for s in definition.pipeline if s.outcome == "open"}
    if stage is not None and stage not in open_stages:
        p.errors["stage"] = SERVICE_FIELD_MESSAGES["stage"]
    owner = _text(form, "owner_id") or None
    if owner is not None and owner not in owners:
        p.errors["owner_id"] = SERVICE_FIELD_MESSAGES["owner_id"]
    name = _text(form, "name") or None
    if name is not None and len(name) > 300:
        p.errors["name"] = N_("At most 300 characters.")
    if not p.errors:
        p.values = {
            "account_id": account,
            "type": kind,
            "arr_change": change if change is not None else Decimal(0),
            "arr_total": total,
            "expected_close_date": close,
            "products": products,
            "stage": stage,
            "owner_id": owner,
            "name": name,
        }
    return p


def parse_stage(form: Any, definition: RevenueDefinition) -> Parsed:
    """The "move to stage" form."""
    p = Parsed(typed={k: str(v) for k, v in form.items() if k != "csrf_token"})
    stage = _text(form, "stage")
    if stage not in {s.id for s in definition.pipeline if s.outcome == "open"}:
        p.errors["stage"] = SERVICE_FIELD_MESSAGES["stage"]
    on = _day(p, "on", _text(form, "on"), required=False)
    if not p.errors:
        p.values = {"stage": stage, "on": on}
    return p


def parse_close(form: Any, *, lost: bool) -> Parsed:
    """The "won" and "lost" forms (a loss needs its reason)."""
    p = Parsed(typed={k: str(v) for k, v in form.items() if k != "csrf_token"})
    reason = _text(form, "reason")
    if lost and not reason:
        p.errors["reason"] = SERVICE_FIELD_MESSAGES["reason"]
    elif len(reason) > _MAX_TEXT:
        p.errors["reason"] = N_("At most 2000 characters.")
    on = _day(p, "on", _text(form, "on"), required=False)
    if not p.errors:
        p.values = {"reason": reason or None, "on": on}
    return p


def parse_owner(form: Any, owners: set[str]) -> Parsed:
    """The "give to" form."""
    p = Parsed(typed={k: str(v) for k, v in form.items() if k != "csrf_token"})
    owner = _text(form, "owner_id")
    if owner not in owners:
        p.errors["owner_id"] = SERVICE_FIELD_MESSAGES["owner_id"]
    if not p.errors:
        p.values = {"owner_id": owner}
    return p


def service_errors(exc: InvalidInput) -> dict[str, str | Problem]:
    """A service's problems by field: the form's words for the field where it has them,
    else the problem itself (worded from its code by the page)."""
    errors: dict[str, str | Problem] = {}
    for problem in exc.problems:
        name = problem.field or "_form"
        errors.setdefault(name, SERVICE_FIELD_MESSAGES.get(name, problem))
    if not errors:
        errors["_form"] = Problem(exc.message, code=exc.code, params=exc.params)
    return errors


def refusal_errors(exc: KizunaError) -> dict[str, str | Problem]:
    """Why the service refused an opportunity form, by field."""
    if isinstance(exc, PermissionDenied):
        return {"_form": N_("You may not change this account's opportunities.")}
    if isinstance(exc, Conflict):
        return {"_form": N_("It was closed meanwhile: reload the page.")}
    if isinstance(exc, InvalidInput):
        return service_errors(exc)
    return {"_form": Problem(exc.message, code=exc.code, params=exc.params)}


__all__ = [
    "SERVICE_FIELD_MESSAGES",
    "TYPES",
    "Parsed",
    "parse_close",
    "parse_new",
    "parse_owner",
    "parse_stage",
    "refusal_errors",
    "service_errors",
]
