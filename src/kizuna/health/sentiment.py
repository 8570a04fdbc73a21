"""A CSM's manual sentiment about an account: recorded with a comment, who and an expiry."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from kizuna.errors import InvalidInput, NotFound, Problem
from kizuna.platform import Platform
from kizuna.store.health_models import ManualSentiment
from kizuna.store.models import Account


def record_sentiment(
    platform: Platform,
    account_id: str,
    value: int,
    author: str,
    comment: str | None = None,
    expires_on: date | None = None,
) -> dict[str, Any]:
    """Store a sentiment (1 very negative … 5 very positive) entered now by ``author``.

    It counts for health from today until ``expires_on`` (inclusive; no expiry
    when None) or until a newer sentiment replaces it.
    """
    today = platform.today()
    problems = []
    if not 1 <= value <= 5:
        problems.append(
            Problem(f"value must be 1 to 5, got {value}", field="value", code="out_of_range",
                    params={"value": value, "low": 1, "high": 5})
        )  # fmt: skip
    if not author.strip():
        problems.append(Problem("say who gives the sentiment", field="author", code="required"))
    if expires_on is not None and expires_on < today:
        problems.append(
            Problem(
                f"expiry {expires_on} is before today ({today})",
                field="expires_on",
                code="date_before_today",
                params={"date": expires_on, "today": today},
            )
        )
    if problems:
        raise InvalidInput("the sentiment is not valid", problems)
    with platform.store.session() as session:
        if session.get(Account, account_id) is None:
            raise NotFound(f"no account {account_id!r}", code="unknown",
                           params={"table": "accounts", "value": account_id})  # fmt: skip
        entry = ManualSentiment(
            account_id=account_id,
            value=value,
            comment=comment,
            author=author.strip(),
            entered_at=platform.clock.now(),
            expires_on=expires_on,
        )
        session.add(entry)
        session.flush()
        return _as_dict(entry)


def list_sentiments(platform: Platform, account_id: str) -> list[dict[str, Any]]:
    """Every sentiment recorded for an account, newest first."""
    with platform.store.session() as session:
        entries = session.scalars(
            sa.select(ManualSentiment)
            .where(ManualSentiment.account_id == account_id)
            .order_by(ManualSentiment.entered_at.desc(), ManualSentiment.id.desc())
        ).all()
        return [_as_dict(e) for e in entries]


def _as_dict(entry: ManualSentiment) -> dict[str, Any]:
    return {
        "id": entry.id,
        "account_id": entry.account_id,
        "value": entry.value,
        "comment": entry.comment,
        "author": entry.author,
        "entered_at": entry.entered_at,
        "expires_on": entry.expires_on,
    }
