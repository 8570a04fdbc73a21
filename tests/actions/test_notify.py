"""Notifications through the outbox against a real local HTTP receiver (fails its first
attempts) and a real SMTP server (aiosmtpd): every delivery arrives exactly once per
delivery id, with a valid signature, also when the sender is killed mid-delivery."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kizuna.actions import parse_rules, run_rules
from kizuna.actions.notify import deliver_pending, enqueue_digests
from kizuna.actions.outbox import list_outbox, retry_outbox
from kizuna.clock import FixedClock
from kizuna.platform import Platform
from kizuna.store.actions_models import MemberPreference, OutboxMessage

from .conftest import Mailbox

SECRET = "s3cret-webhook-key"
RULES = parse_rules(
    {"rules": [{"id": "low", "name": "Low health", "type": "risk",
                "when": {"fact": "health_score", "lt": 60}}]},
    "test",
)  # fmt: skip


class Receiver:
    """A webhook receiver that fails the first ``fail`` requests and dedupes on the id."""

    def __init__(self, fail: int = 0, hold_first: bool = False) -> None:
        self.fail = fail
        self.hold_first = hold_first
        self.held = threading.Event()
        self.release = threading.Event()
        self.requests: list[str] = []
        self.accepted: dict[str, dict[str, Any]] = {}
        self.bad_signatures = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                delivery = self.headers["X-Kizuna-Delivery"]
                owner.requests.append(delivery)
                if owner.hold_first and len(owner.requests) == 1:
                    owner.held.set()
                    owner.release.wait(30)  # the sender is killed while waiting for this answer
                    return
                if len(owner.requests) <= owner.fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, self.headers.get("X-Kizuna-Signature", "")):
                    owner.bad_signatures += 1
                owner.accepted.setdefault(delivery, json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def _configured(book: Platform, url: str, smtp_port: int) -> Platform:
    settings = book.settings.model_copy(
        update={
            "notify_webhook_url": url, "notify_webhook_secret": SECRET,
            "smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_starttls": False,
        }
    )  # fmt: skip
    # a validated copy: SecretStr from the plain value
    settings = type(settings).model_validate(
        settings.model_dump() | {"notify_webhook_secret": SECRET}
    )
    return Platform(settings, book.store, book.clock)


def test_webhooks_and_digests_arrive_once_after_retries(
    book: Platform, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    receiver = Receiver(fail=2)
    try:
        platform = _configured(book, receiver.url, port)
        with platform.store.session() as s:
            s.add(MemberPreference(party="member:T2", language="ja"))
        run = run_rules(platform, ruleset=RULES)
        assert run.count("opened") == 2  # A1 (T1) and A3 (T2)
        assert enqueue_digests(platform, platform.today()) == 2
        assert enqueue_digests(platform, platform.today()) == 0  # one digest per CSM per day
        clock = platform.clock
        assert isinstance(clock, FixedClock)
        reports = []
        for _ in range(4):
            reports.append(deliver_pending(platform))
            clock.set(clock.now() + timedelta(minutes=5))
        assert sum(r.sent for r in reports) == 4
        assert len(receiver.accepted) == 2 and receiver.bad_signatures == 0
        assert len(receiver.requests) == 4  # two refused with 500, then one each
        assert sorted(p["cta"]["account_id"] for p in receiver.accepted.values()) == ["A1", "A3"]
        assert sorted(m["To"] for m in box.messages) == ["t1@v.example", "t2@v.example"]
        subjects = {m["To"]: m["Subject"] for m in box.messages}
        assert subjects["t1@v.example"] == "Kizuna: 1 new and 0 overdue calls to action"
        assert (
            subjects["t2@v.example"] == "Kizuna: 新しいCTA 1件、期限切れ 0件"
        )  # T2 reads Japanese
        assert [e.status for e in list_outbox(platform)] == ["sent"] * 4
        # the secret is never stored in the outbox
        with platform.store.session() as s:
            stored = json.dumps([m.payload for m in s.scalars(sa.select(OutboxMessage))])
        assert SECRET not in stored
    finally:
        receiver.close()


def test_failing_endpoint_gives_up_visibly_and_retry_requeues(book: Platform) -> None:
    receiver = Receiver(fail=100)
    try:
        platform = _configured(book, receiver.url, 1)
        run_rules(platform, ruleset=RULES)
        clock = platform.clock
        assert isinstance(clock, FixedClock)
        for _ in range(8):
            deliver_pending(platform)
            clock.set(clock.now() + timedelta(hours=1))
        failed = list_outbox(platform, "failed")
        assert len(failed) == 2 and all(e.attempts == 6 for e in failed)
        assert failed[0].last_error == "RuntimeError: HTTP 500 from the receiver"
        assert retry_outbox(platform) == 2
        receiver.fail = 0
        assert deliver_pending(platform).sent == 2
        assert len(receiver.accepted) == 2
    finally:
        receiver.close()


def test_sender_killed_mid_delivery_then_restarted(
    sqlite_platform: Platform, tmp_path: Path
) -> None:
    receiver = Receiver(hold_first=True)
    try:
        platform = _configured(sqlite_platform, receiver.url, 1)
        from kizuna.store.models import Account

        with platform.store.session() as s:
            s.add_all([Account(id=f"X{i}", name=f"X{i}") for i in range(3)])
        everyone = parse_rules(
            {"rules": [{"id": "all", "name": "All", "type": "activity",
                        "when": {"fact": "arr", "gte": 0}}]},
            "test",
        )  # fmt: skip
        assert run_rules(platform, ruleset=everyone).count("opened") == 3
        env = {
            **os.environ,
            "KIZUNA_HOME": str(platform.settings.home),
            "KIZUNA_DATABASE_URL": platform.store.url,
            "KIZUNA_NOTIFY_WEBHOOK_URL": receiver.url,
            "KIZUNA_NOTIFY_WEBHOOK_SECRET": SECRET,
            "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"),
        }
        command = [sys.executable, "-c", "from kizuna.cli import main; main()", "outbox", "send"]
        sender = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        assert receiver.held.wait(60), "the sender never reached the receiver"
        sender.send_signal(signal.SIGKILL)
        sender.wait(10)
        receiver.release.set()
        assert [e.status for e in list_outbox(platform)] == ["pending"] * 3
        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert [e.status for e in list_outbox(platform)] == ["sent"] * 3
        # the first delivery reached the receiver twice (before the kill and after), the
        # receiver dedupes on the delivery id: each notification counts exactly once
        assert len(receiver.requests) == 4 and len(set(receiver.requests)) == 3
        assert len(receiver.accepted) == 3 and receiver.bad_signatures == 0
    finally:
        receiver.close()
