"""Benchmark: queueing the tech-touch e-mails of the digital CTAs one rule run opens.

    python bench/actions/techtouch.py [--accounts 20000] [--contacts 3]

A first run over a large book opens tens of thousands of digital (tech-touch) CTAs at once
(26,708 on the M-size book, see bench/README.md). This script builds a throwaway SQLite
store with ``--accounts`` SMB accounts, ``--contacts`` contacts each (one promoter with an
address; a tenth of the promoters opted out), opens one digital CTA per account, and times
queueing their e-mails

* batched, as a rule run does (:func:`kizuna.actions.techtouch.enqueue_tech_touch` over
  every CTA: a few IN (...) queries for accounts, contacts, preferences, earlier e-mails);
* naively, one CTA at a time (the same function called with one CTA: five queries per CTA),

checks both queue the same e-mails, and prints the figures and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform as py_platform
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

from kizuna.actions.definitions import Assignment
from kizuna.actions.techtouch import DigitalAction, enqueue_tech_touch
from kizuna.settings import Settings
from kizuna.store.actions_models import CallToAction, MemberPreference, OutboxMessage
from kizuna.store.db import Store
from kizuna.store.models import Account, Contact, SuccessRole

ACTION = Assignment(
    to="digital", role="promoter", subject="{account}: tips", body="Hello {contact}: {reason}",
    subject_ja="{account}様", body_ja="{contact}様: {reason}",
)  # fmt: skip
NOW = datetime(2025, 6, 30, 12, tzinfo=UTC)


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{cpu}, {os.cpu_count()} cores, Python {py_platform.python_version()}"


def build(store: Store, accounts: int, contacts: int) -> list[int]:
    roles = [SuccessRole.PROMOTER, SuccessRole.EVALUATOR, SuccessRole.END_USER]
    with store.session() as s:
        s.execute(sa.insert(Account), [
            {"id": f"A{i}", "name": f"Account {i}", "segment": "smb",
             "attributes": {"language": "ja"} if i % 3 == 0 else {}}
            for i in range(accounts)
        ])  # fmt: skip
        s.execute(sa.insert(Contact), [
            {"id": f"C{i}-{j}", "account_id": f"A{i}", "name": f"Contact {j}",
             "email": f"c{j}@a{i}.example", "success_role": roles[j % len(roles)]}
            for i in range(accounts) for j in range(contacts)
        ])  # fmt: skip
        s.execute(sa.insert(MemberPreference), [
            {"party": f"contact:C{i}-0", "language": "en", "opted_out": True}
            for i in range(0, accounts, 10)
        ])  # fmt: skip
        s.execute(sa.insert(CallToAction), [
            {"account_id": f"A{i}", "rule_id": "low", "dedupe_key": f"low|A{i}", "type": "risk",
             "priority": 2, "title": "Low health", "reason": "Low health: score is 40 (< 60)",
             "facts": {}, "status": "open", "assignee_kind": "digital",
             "opened_on": date(2025, 6, 30), "created_at": NOW, "updated_at": NOW}
            for i in range(accounts)
        ])  # fmt: skip
        return list(s.scalars(sa.select(CallToAction.id).order_by(CallToAction.id)))


def queue(store: Store, settings: Settings, ids: list[int], batched: bool) -> tuple[float, int]:
    began = time.perf_counter()
    count = 0
    with store.session() as s:
        ctas = list(s.scalars(sa.select(CallToAction).where(CallToAction.id.in_(ids))))
        items = [DigitalAction(c, ACTION, {"en": c.reason, "ja": "ヘルス低下"}) for c in ctas]
        if batched:
            count = enqueue_tech_touch(s, settings, items, NOW)
        else:
            for item in items:
                count += enqueue_tech_touch(s, settings, [item], NOW)
    return time.perf_counter() - began, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20000)
    parser.add_argument("--contacts", type=int, default=3)
    args = parser.parse_args()
    results = {}
    for batched in (True, False):
        with tempfile.TemporaryDirectory() as folder:
            settings = Settings(home=Path(folder), secret_key="bench", smtp_host="127.0.0.1")
            store = Store(f"sqlite:///{folder}/kizuna.sqlite3")
            store.upgrade()
            ids = build(store, args.accounts, args.contacts)
            seconds, count = queue(store, settings, ids, batched)
            with store.session() as s:
                queued = sorted(s.scalars(sa.select(OutboxMessage.target)))
            results[batched] = (seconds, count, queued)
            store.dispose()
    (fast, n_fast, q_fast), (slow, n_slow, q_slow) = results[True], results[False]
    assert n_fast == n_slow and q_fast == q_slow, "batched and naive queued different e-mails"
    print(f"machine: {machine()}")
    print(f"{args.accounts:,} digital CTAs, {args.contacts} contacts per account; "
          f"{n_fast:,} e-mails queued (opted-out promoters skipped)")  # fmt: skip
    print(f"batched (as a rule run does): {fast:.2f} s")
    print(f"naive, one CTA at a time:     {slow:.2f} s  ({slow / fast:.1f}x slower)")


if __name__ == "__main__":
    main()
