"""Prometheus metrics at ``/ops/metrics`` (the API's ``/metrics/...`` routes are the
customer metrics; operations live under ``/ops``).

Three sources, one exposition:

* **HTTP**: every request counted and timed by :class:`HttpMetricsMiddleware`,
  labelled by method, route template (``/accounts/{account_id}``, never the
  raw path: bounded cardinality) and status code;
* **event collection**: events accepted, duplicate and quarantined, counted
  where the collection API receives the lake's ingest report
  (:meth:`OpsMetrics.ingested`);
* **the daily run**: read from the run log in the store at scrape time
  (:class:`RunLogCollector`), so it is right whichever process ran the run —
  ``kizuna daily``, the scheduler, another server.

Several uvicorn workers: ``kizuna serve`` points ``PROMETHEUS_MULTIPROC_DIR``
at a fresh folder before starting them, each worker writes its counters there,
and the scrape (answered by any worker) adds them up
(:class:`prometheus_client.multiprocess.MultiProcessCollector`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kizuna.settings import Settings
from kizuna.store.db import Store
from kizuna.store.ops_models import DailyRunRecord, DailyRunStep

__all__ = [
    "CONTENT_TYPE_LATEST",
    "MULTIPROC_ENV",
    "HttpMetricsMiddleware",
    "OpsMetrics",
    "RunLogCollector",
    "fresh_multiprocess_dir",
    "scrape_allowed",
    "token_hash",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Request latency buckets (seconds): pages and API calls, not batch jobs.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def token_hash(token: str) -> str:
    """The SHA-256 (hex) that ``ops_metrics_token_hash`` holds for a scrape token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def scrape_allowed(settings: Settings, client: str | None, bearer: str | None) -> bool:
    """May this client read the metrics: the right token, or an allowed address."""
    expected = settings.ops_metrics_token_hash
    if bearer and expected and hmac.compare_digest(token_hash(bearer), expected):
        return True
    if client and settings.ops_metrics_addresses:
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return False
        return any(
            address in ipaddress.ip_network(n, strict=False) for n in settings.ops_metrics_addresses
        )
    return False


class RunLogCollector(Collector):
    """The daily run's figures, read from the run log at each scrape."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        runs = CounterMetricFamily(
            "kizuna_daily_runs", "Daily runs by how they ended.", labels=["status"]
        )
        failures = CounterMetricFamily(
            "kizuna_daily_step_failures", "Failed daily run steps.", labels=["step"]
        )
        last_seconds = GaugeMetricFamily(
            "kizuna_daily_run_last_seconds", "Duration of the last finished daily run."
        )
        last_ok = GaugeMetricFamily(
            "kizuna_daily_run_last_success_timestamp_seconds",
            "When the last succeeded daily run finished (Unix time).",
        )
        step_seconds = GaugeMetricFamily(
            "kizuna_daily_step_seconds",
            "Each step's duration in the last finished daily run.",
            labels=["step"],
        )
        step_rows = GaugeMetricFamily(
            "kizuna_daily_step_rows",
            "Rows each step wrote in the last finished daily run.",
            labels=["step"],
        )
        with self.store.session() as session:
            by_status = session.execute(
                sa.select(DailyRunRecord.status, sa.func.count()).group_by(DailyRunRecord.status)
            )
            for status, count in by_status:
                runs.add_metric([status], count)
            failed = session.execute(
                sa.select(DailyRunStep.step, sa.func.count())
                .where(DailyRunStep.status == "failed")
                .group_by(DailyRunStep.step)
            )
            for step, count in failed:
                failures.add_metric([step], count)
            last = session.scalars(
                sa.select(DailyRunRecord)
                .where(DailyRunRecord.finished_at.is_not(None))
                .order_by(DailyRunRecord.id.desc())
                .limit(1)
            ).first()
            if last is not None and last.finished_at is not None:
                last_seconds.add_metric([], (last.finished_at - last.started_at).total_seconds())
                for s in session.scalars(
                    sa.select(DailyRunStep).where(DailyRunStep.run_id == last.id)
                ):
                    if s.seconds is not None:
                        step_seconds.add_metric([s.step], s.seconds)
                    if s.rows is not None:
                        step_rows.add_metric([s.step], s.rows)
            ok = session.scalar(
                sa.select(sa.func.max(DailyRunRecord.finished_at)).where(
                    DailyRunRecord.status == "succeeded"
                )
            )
        if ok is not None:
            last_ok.add_metric([], ok.timestamp())
        yield from (runs, failures, last_seconds, last_ok, step_seconds, step_rows)


class OpsMetrics:
    """One server process's Prometheus registry: HTTP, event collection and the run log."""

    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        # In multiprocess mode the values go to the shared folder, not to a registry.
        own: CollectorRegistry | None = None if multiprocess else self.registry
        self.requests = Counter(
            "kizuna_http_requests",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=own,
        )
        self.latency = Histogram(
            "kizuna_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self.events = Counter(
            "kizuna_events",
            "Events received by the collection API, by outcome (accepted, duplicate, quarantined).",
            ["outcome"],
            registry=own,
        )
        if multiprocess:
            MultiProcessCollector(self.registry)
        self.registry.register(RunLogCollector(store))

    def ingested(self, *, accepted: int, duplicates: int, quarantined: int) -> None:
        """Count one ingest report's events (the collection API calls this)."""
        for outcome, n in (
            ("accepted", accepted),
            ("duplicate", duplicates),
            ("quarantined", quarantined),
        ):
            if n:
                self.events.labels(outcome).inc(n)

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)


def _route_of(scope: Scope, status: int) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        # A route that does not say its template (FastAPI's /openapi.json, /docs): its
        # path, when it answered; an unknown path stays "unmatched" (bounded labels).
        return str(scope.get("path", "unmatched")) if status < 400 else "unmatched"
    return f"{scope.get('root_path', '')}{path}" if path != "" else scope.get("root_path", "/")


class HttpMetricsMiddleware:
    """Count and time every HTTP request (labels: method, route template, status)."""

    def __init__(self, app: ASGIApp, metrics: OpsMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = _route_of(scope, status[0])
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(method, route, str(status[0])).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - began)


def fresh_multiprocess_dir(folder: Path) -> Path:
    """Point ``PROMETHEUS_MULTIPROC_DIR`` at an emptied ``folder`` (before the workers start:
    they inherit the variable, and counters of an earlier server must not be added in)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.db"):
        old.unlink()
    os.environ[MULTIPROC_ENV] = str(folder)
    return folder
