"""Service functions over customer records, with role and account-scope checks.

One generic implementation serves accounts, contacts, contract lines, tickets,
survey responses and activities; :data:`RESOURCES` says how each differs (its
model, filters, sort keys and extra rules). What a valid record is comes from
the import's row models (see :mod:`kizuna.customers.schemas`); the references
to check come from the import's table specs. Every function takes a
:class:`~kizuna.auth.policy.Caller`; every write and every denial is written to
the audit log in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.orm import Session

from kizuna.auth.audit import add_audit, record_audit
from kizuna.auth.policy import Caller, account_scope, can_read, can_write
from kizuna.customers.schemas import TABLE_OF, validate_row
from kizuna.dataio.schemas import TABLES, target_model
from kizuna.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Problem
from kizuna.platform import Platform
from kizuna.store.models import (
    Account,
    Activity,
    Base,
    Contact,
    ContractLine,
    SurveyResponse,
    TeamRole,
    Ticket,
)
from kizuna.store.plans_models import MeetingSeries, Plan

Rule = Callable[[Session, dict[str, Any]], list[Problem]]


@dataclass(frozen=True)
class Resource:
    """How one kind of customer record is stored, filtered and checked."""

    name: str
    model: type[Base]
    filters: tuple[str, ...]
    sort_keys: tuple[str, ...]
    default_sort: str = "id"
    #: Extra rules that need the store (the row model's own rules run anyway).
    rules: tuple[Rule, ...] = ()

    @property
    def is_account(self) -> bool:
        return self.model is Account

    @property
    def references(self) -> dict[str, type[Base]]:
        """Columns naming other records, as the import checks them: column -> store model.

        ``account_id`` is left out: it is checked with the caller's access to the account.
        """
        spec = TABLES[TABLE_OF[self.name]]
        return {
            ref.column: target_model(ref.target)
            for ref in spec.references
            if ref.column != "account_id"
        }


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing."""

    items: list[Any]
    total: int
    limit: int
    offset: int


def _contact_same_account(session: Session, row: dict[str, Any]) -> list[Problem]:
    contact_id = row.get("contact_id")
    if contact_id is None:
        return []
    contact_account = session.scalar(sa.select(Contact.account_id).where(Contact.id == contact_id))
    if contact_account is not None and contact_account != row["account_id"]:
        return [Problem("the contact belongs to another account", field="contact_id")]
    return []


def _series_same_account(session: Session, row: dict[str, Any]) -> list[Problem]:
    series_id = row.get("meeting_series_id")
    if series_id is None:
        return []
    series_account = session.scalar(
        sa.select(Plan.account_id)
        .join(MeetingSeries, MeetingSeries.plan_id == Plan.id)
        .where(MeetingSeries.id == series_id)
    )
    if series_account is not None and series_account != row["account_id"]:
        message = "the meeting series belongs to another account's plan"
        return [Problem(message, field="meeting_series_id")]
    return []


def _no_parent_cycle(session: Session, row: dict[str, Any]) -> list[Problem]:
    seen = {row["id"]}
    parent = row.get("parent_id")
    while parent is not None:
        if parent in seen:
            return [Problem("the parent chain would loop back to this account", field="parent_id")]
        seen.add(parent)
        parent = session.scalar(sa.select(Account.parent_id).where(Account.id == parent))
    return []


RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in (
        Resource(
            "accounts",
            Account,
            filters=("segment", "region", "industry", "owner_id", "parent_id"),
            sort_keys=("id", "name", "segment", "region", "created_date", "updated_at"),
            rules=(_no_parent_cycle,),
        ),
        Resource(
            "contacts",
            Contact,
            filters=("account_id", "success_role", "email"),
            sort_keys=("id", "name", "account_id", "updated_at"),
        ),
        Resource(
            "contracts",
            ContractLine,
            filters=("account_id", "product", "status", "currency"),
            sort_keys=("id", "account_id", "start_date", "end_date", "arr", "updated_at"),
        ),
        Resource(
            "tickets",
            Ticket,
            filters=("account_id", "status", "priority"),
            sort_keys=("id", "account_id", "opened_at", "closed_at", "updated_at"),
        ),
        Resource(
            "surveys",
            SurveyResponse,
            filters=("account_id", "kind", "contact_id"),
            sort_keys=("id", "account_id", "answered_at", "score", "updated_at"),
            rules=(_contact_same_account,),
        ),
        Resource(
            "activities",
            Activity,
            filters=("account_id", "kind", "author_id", "contact_id", "meeting_series_id"),
            sort_keys=("id", "account_id", "activity_date", "updated_at"),
            rules=(_contact_same_account, _series_same_account),
        ),
    )
}


# -- reads ---------------------------------------------------------------------


def _scoped(resource: Resource, query: sa.Select[Any], caller: Caller) -> sa.Select[Any]:
    owner = account_scope(caller)
    if owner is None:
        return query
    if resource.is_account:
        return query.where(Account.owner_id == owner)
    model: Any = resource.model
    return query.where(model.account_id.in_(sa.select(Account.id).where(Account.owner_id == owner)))


def _order(resource: Resource, sort: str | None) -> list[Any]:
    key = sort or resource.default_sort
    descending = key.startswith("-")
    name = key.removeprefix("-")
    if name not in resource.sort_keys:
        raise InvalidInput(
            f"cannot sort {resource.name} by {name!r}",
            [
                Problem(
                    f"sort by one of {', '.join(resource.sort_keys)} (prefix - for descending)",
                    where="query parameter sort",
                    field="sort",
                )
            ],
        )
    model: Any = resource.model
    column = getattr(model, name)
    primary = model.id
    ordered = column.desc() if descending else column.asc()
    return [ordered, primary] if name != "id" else [ordered]


def list_records(
    platform: Platform,
    caller: Caller,
    resource_name: str,
    *,
    filters: Mapping[str, Any] | None = None,
    search: str | None = None,
    sort: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Page:
    """A page of ``resource_name`` records the caller may read, filtered and sorted.

    ``filters`` maps filter names (see :data:`RESOURCES`) to exact values; None
    values are ignored. ``search`` matches account names (accounts only).
    """
    resource = RESOURCES[resource_name]
    model: Any = resource.model
    query = _scoped(resource, sa.select(model), caller)
    for name, value in (filters or {}).items():
        if value is None:
            continue
        if name not in resource.filters:
            raise InvalidInput(f"unknown filter {name!r}", [Problem("unknown filter", field=name)])
        query = query.where(getattr(model, name) == value)
    if search and resource.is_account:
        query = query.where(sa.func.lower(Account.name).contains(search.lower(), autoescape=True))
    order = _order(resource, sort)
    with platform.store.session() as session:
        total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
        rows = list(session.scalars(query.order_by(*order).limit(limit).offset(offset)))
    return Page(items=rows, total=int(total), limit=limit, offset=offset)


def _owner_of(session: Session, account_id: str) -> tuple[bool, str | None]:
    row = session.execute(sa.select(Account.owner_id).where(Account.id == account_id)).first()
    return (row is not None, row[0] if row else None)


def _account_of(resource: Resource, row: Any) -> str:
    return str(row.id if resource.is_account else row.account_id)


def get_record(platform: Platform, caller: Caller, resource_name: str, record_id: str) -> Any:
    """One record; NotFound also when it is outside the caller's readable scope."""
    resource = RESOURCES[resource_name]
    with platform.store.session() as session:
        row = session.get(resource.model, record_id)
        if row is not None:
            if account_scope(caller) is None:
                return row
            _, owner = _owner_of(session, _account_of(resource, row))
            if can_read(caller, owner):
                return row
            denied_account = _account_of(resource, row)
        else:
            denied_account = None
    if denied_account is not None:
        record_audit(
            platform,
            caller,
            action="read",
            resource=resource_name,
            resource_id=record_id,
            account_id=denied_account,
            allowed=False,
            detail="outside the caller's book",
        )
    raise NotFound(
        f"no {_singular(resource_name)} {record_id}",
        code="unknown",
        params={"table": resource_name, "value": record_id},
    )


# -- writes --------------------------------------------------------------------


class _Denied(Exception):
    def __init__(self, error: PermissionDenied | NotFound, account_id: str | None) -> None:
        self.error, self.account_id = error, account_id


def _authorise_row(
    session: Session, caller: Caller, resource: Resource, record_id: str, account_id: str
) -> None:
    """Check the caller may change an existing record of ``account_id``.

    A record outside what the caller may read is "not found", as for reads.
    """
    _, owner = _owner_of(session, account_id)
    if not can_read(caller, owner):
        raise _Denied(NotFound(f"no {_singular(resource.name)} {record_id}"), account_id)
    if not can_write(caller, owner):
        raise _Denied(
            PermissionDenied(
                f"{caller.principal.role.value} {caller.principal.member_id} "
                f"may not change records of account {account_id}"
            ),
            account_id,
        )


def _authorise_target(
    session: Session, caller: Caller, account_id: str, denials: list[str]
) -> list[Problem]:
    """Check the caller may put a record under ``account_id``.

    An account the caller may not read is reported exactly like one that does
    not exist (and the attempt noted in ``denials`` for the audit log).
    """
    exists, owner = _owner_of(session, account_id)
    if exists and not can_read(caller, owner):
        denials.append(account_id)
        exists = False
    if not exists:
        return [Problem(f"no account {account_id}", field="account_id")]
    if not can_write(caller, owner):
        raise _Denied(
            PermissionDenied(
                f"{caller.principal.role.value} {caller.principal.member_id} "
                f"may not change records of account {account_id}"
            ),
            account_id,
        )
    return []


def _create_denied(caller: Caller, resource: Resource, record_id: str) -> PermissionDenied:
    p = caller.principal
    return PermissionDenied(
        f"{p.role.value} {p.member_id} may not create {_singular(resource.name)} {record_id}"
    )


def _check_references(
    session: Session,
    caller: Caller,
    resource: Resource,
    row: dict[str, Any],
    changed: set[str],
    denials: list[str],
) -> list[Problem]:
    """Problems with the changed columns that name other records (a parent account,
    the line a contract renews, a survey's contact).

    A record the caller may not read is refused exactly like one that does not
    exist — same status, same message — so references cannot cross a CSM's
    book nor reveal which ids exist there (the attempt is audited).
    """
    problems = []
    for name, target in resource.references.items():
        value = row.get(name)
        if name not in changed or value is None:
            continue
        found: Any = session.get(target, value)
        in_a_book = target is Account or hasattr(target, "account_id")
        if found is not None and in_a_book and account_scope(caller) is not None:
            account_id = str(found.id if target is Account else found.account_id)
            _, owner = _owner_of(session, account_id)
            if not can_read(caller, owner):
                denials.append(account_id)
                found = None
        if found is None:
            problems.append(Problem(f"no {target.__tablename__} row {value}", field=name))
    return problems


def _not_null(resource: Resource, values: Mapping[str, Any]) -> list[Problem]:
    table = resource.model.__table__
    return [
        Problem("must not be null", field=name)
        for name, value in values.items()
        if value is None and not table.c[name].nullable
    ]


def _row_dict(resource: Resource, row: Any) -> dict[str, Any]:
    return {c.name: getattr(row, c.key) for c in resource.model.__table__.columns}


def _account_owner_rule(caller: Caller, values: Mapping[str, Any]) -> None:
    """CSMs keep the accounts they write in their own book."""
    if (
        caller.principal.role is TeamRole.CSM
        and "owner_id" in values
        and values["owner_id"] != caller.principal.member_id
    ):
        raise _Denied(
            PermissionDenied("a CSM may only own accounts themselves; ask a manager"),
            values.get("id"),
        )


def _run_write(
    platform: Platform,
    caller: Caller,
    resource: Resource,
    action: str,
    record_id: str,
    work: Callable[[Session, list[str]], tuple[Any, str | None]],
) -> Any:
    denials: list[str] = []
    try:
        with platform.store.session() as session:
            result, account_id = work(session, denials)
            add_audit(
                session,
                platform,
                caller,
                action=action,
                resource=resource.name,
                resource_id=record_id,
                account_id=account_id,
            )
            session.flush()
            return result
    except _Denied as denied:
        record_audit(
            platform,
            caller,
            action=action,
            resource=resource.name,
            resource_id=record_id,
            account_id=denied.account_id,
            allowed=False,
            detail=denied.error.message,
        )
        raise denied.error from None
    except InvalidInput:
        for account_id in denials:
            record_audit(
                platform,
                caller,
                action=action,
                resource=resource.name,
                resource_id=record_id,
                account_id=account_id,
                allowed=False,
                detail="account outside the caller's book",
            )
        raise
    except sa.exc.IntegrityError as exc:
        raise Conflict(
            f"the {action} of {_singular(resource.name)} {record_id} conflicts with stored "
            f"data: {exc.orig}"
        ) from None


def create_record(platform: Platform, caller: Caller, resource_name: str, data: BaseModel) -> Any:
    """Create a record from a validated ``*In`` model; Conflict if the id exists."""
    resource = RESOURCES[resource_name]
    values = data.model_dump(exclude_unset=True)
    record_id = str(values["id"])
    if resource.is_account and caller.principal.role is TeamRole.CSM:
        values.setdefault("owner_id", caller.principal.member_id)

    def work(session: Session, denials: list[str]) -> tuple[Any, str | None]:
        account_id = record_id if resource.is_account else values["account_id"]
        if resource.is_account:
            _account_owner_rule(caller, values)
            if caller.principal.role not in (TeamRole.ADMIN, TeamRole.MANAGER, TeamRole.CSM):
                raise _Denied(_create_denied(caller, resource, record_id), None)
            problems: list[Problem] = []
        else:
            problems = _authorise_target(session, caller, account_id, denials)
        existing = session.get(resource.model, record_id)
        if existing is not None:
            # A taken id the caller may not read is refused like any other create the
            # caller may not make (403), never "already exists": that would leak it.
            existing_account = _account_of(resource, existing)
            if account_scope(caller) is not None:
                _, owner = _owner_of(session, existing_account)
                if not can_read(caller, owner):
                    raise _Denied(_create_denied(caller, resource, record_id), existing_account)
            raise Conflict(f"{_singular(resource_name)} {record_id} already exists")
        problems += _not_null(resource, values)
        if problems:
            raise InvalidInput(f"cannot create {_singular(resource_name)} {record_id}", problems)
        row = resource.model(**values)
        merged = {**_defaults(resource), **values}
        problems += _check_references(session, caller, resource, merged, set(values), denials)
        if not problems:  # rules read the referenced rows: only those the caller may see
            problems += [p for rule in resource.rules for p in rule(session, merged)]
        if problems:
            raise InvalidInput(f"cannot create {_singular(resource_name)} {record_id}", problems)
        session.add(row)
        session.flush()
        return row, account_id

    return _run_write(platform, caller, resource, "create", record_id, work)


def update_record(
    platform: Platform, caller: Caller, resource_name: str, record_id: str, patch: BaseModel
) -> Any:
    """Apply a partial update (only the fields set in ``patch``)."""
    resource = RESOURCES[resource_name]
    values = patch.model_dump(exclude_unset=True)

    def work(session: Session, denials: list[str]) -> tuple[Any, str | None]:
        row = session.get(resource.model, record_id)
        if row is None:
            raise NotFound(f"no {_singular(resource_name)} {record_id}")
        account_id = _account_of(resource, row)
        _authorise_row(session, caller, resource, record_id, account_id)
        problems = []
        new_account = values.get("account_id")
        if new_account is not None and new_account != account_id:
            problems += _authorise_target(session, caller, new_account, denials)
        if resource.is_account:
            _account_owner_rule(caller, {"id": record_id, **values})
        problems += _not_null(resource, values)
        if problems:
            raise InvalidInput(f"cannot update {_singular(resource_name)} {record_id}", problems)
        merged = {**_row_dict(resource, row), **values}
        problems += validate_row(resource.name, merged)
        if problems:
            raise InvalidInput(f"cannot update {_singular(resource_name)} {record_id}", problems)
        problems += _check_references(session, caller, resource, merged, set(values), denials)
        if not problems:  # rules read the referenced rows: only those the caller may see
            problems += [p for rule in resource.rules for p in rule(session, merged)]
        if problems:
            raise InvalidInput(f"cannot update {_singular(resource_name)} {record_id}", problems)
        for name, value in values.items():
            setattr(row, name, value)
        session.flush()
        return row, account_id

    return _run_write(platform, caller, resource, "update", record_id, work)


def delete_record(platform: Platform, caller: Caller, resource_name: str, record_id: str) -> None:
    """Delete a record. Deleting an account (and all its records) needs a manager or admin."""
    resource = RESOURCES[resource_name]

    def work(session: Session, denials: list[str]) -> tuple[Any, str | None]:
        row = session.get(resource.model, record_id)
        if row is None:
            raise NotFound(f"no {_singular(resource_name)} {record_id}")
        account_id = _account_of(resource, row)
        _authorise_row(session, caller, resource, record_id, account_id)
        if resource.is_account and caller.principal.role not in (TeamRole.ADMIN, TeamRole.MANAGER):
            raise _Denied(
                PermissionDenied("deleting an account needs a manager or an admin"), account_id
            )
        if resource.is_account and session.scalar(
            sa.select(Account.id).where(Account.parent_id == record_id).limit(1)
        ):
            raise Conflict(f"account {record_id} has child accounts; move or delete them first")
        session.delete(row)
        session.flush()
        return None, account_id

    _run_write(platform, caller, resource, "delete", record_id, work)
    if resource.is_account:
        from kizuna.lake.ingest import forget_accounts

        forget_accounts(platform.store, [record_id])  # its events are quarantined from now on


def _defaults(resource: Resource) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in resource.model.__table__.columns:
        default = column.default
        if default is not None and getattr(default, "is_scalar", False):
            values[column.name] = default.arg
        else:
            values[column.name] = None
    return values


_SINGULAR = {
    "accounts": "account",
    "contacts": "contact",
    "contracts": "contract line",
    "tickets": "ticket",
    "surveys": "survey response",
    "activities": "activity",
}


def _singular(resource_name: str) -> str:
    return _SINGULAR.get(resource_name, resource_name)


# -- access to one account's derived data (health, metrics, lifecycle) ----------


def readable_account_ids(platform: Platform, caller: Caller) -> set[str] | None:
    """Ids of the accounts ``caller`` may read, or None when they may read every account."""
    owner = account_scope(caller)
    if owner is None:
        return None
    with platform.store.session() as session:
        return set(session.scalars(sa.select(Account.id).where(Account.owner_id == owner)))


def authorise_account(
    platform: Platform, caller: Caller, account_id: str, resource: str, *, write: bool = False
) -> Account:
    """The account, if ``caller`` may read it (and change it, with ``write``).

    An account outside what the caller may read is "not found", like one that
    does not exist; a write the caller may not make on an account they can see
    is "permission denied". Both denials are written to the audit log.
    """
    action = "write" if write else "read"
    with platform.store.session() as session:
        account = session.get(Account, account_id)
        if account is None:
            raise NotFound(
                f"no account {account_id}",
                code="unknown",
                params={"table": "accounts", "value": account_id},
            )
        owner_id = account.owner_id
        session.expunge(account)
    denial: NotFound | PermissionDenied | None = None
    if not can_read(caller, owner_id):
        denial = NotFound(f"no account {account_id}")
    elif write and not can_write(caller, owner_id):
        p = caller.principal
        denial = PermissionDenied(
            f"{p.role.value} {p.member_id} may not change records of account {account_id}"
        )
    if denial is not None:
        record_audit(
            platform,
            caller,
            action=action,
            resource=resource,
            resource_id=account_id,
            account_id=account_id,
            allowed=False,
            detail=denial.message,
        )
        raise denial
    return account
