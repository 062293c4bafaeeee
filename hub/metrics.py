"""Prometheus metrics on a registry of the app's own (so tests can build many apps), with
the client library's standard process, platform and garbage-collector metrics, as its
default registry would have them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        for standard in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(standard)
        self._request_counts: dict[tuple[str, int], Any] = {}
        r = self.registry
        self.accepted = Counter(
            "contacthub_ingest_accepted", "Messages appended to the ingest queue", ["channel"], registry=r
        )
        self.stored = Counter(
            "contacthub_ingest_stored", "Messages stored by the ingest worker", ["channel"], registry=r
        )
        self.duplicates = Counter(
            "contacthub_ingest_duplicates", "Messages dropped as duplicates", ["channel"], registry=r
        )
        self.failed = Counter(
            "contacthub_ingest_failed", "Queue entries that failed and were retried later", registry=r
        )
        self.conflicts = Counter(
            "contacthub_store_conflicts",
            "Transactions that lost a race (deadlock, serialization failure) and were tried again",
            ["work"],
            registry=r,
        )
        self.stage = Histogram(
            "contacthub_stage_seconds",
            "Latency per stage: append (edge to durable), store_batch (one transaction), "
            "accepted_to_stored (edge to committed)",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            "contacthub_http_requests", "HTTP requests by route and status", ["route", "status"], registry=r
        )
        self.queue_depth = Gauge(
            "contacthub_queue_depth", "Entries waiting or in flight, per queue", ["queue"], registry=r
        )
        self.dead_letters = Gauge(
            "contacthub_queue_dead_letters",
            "Entries in the dead-letter store, per queue",
            ["queue"],
            registry=r,
        )
        self.router_active = Gauge(
            "contacthub_router_active", "1 while this process holds the router lease", registry=r
        )
        self.routing_decisions = Counter(
            "contacthub_routing_decisions", "Router decisions applied, by kind", ["kind"], registry=r
        )
        self.sla_breaches = Counter(
            "contacthub_sla_breaches", "SLA breaches recorded, by kind", ["kind"], registry=r
        )
        self.outbox = Counter(
            "contacthub_outbox",
            "Reply send attempts by channel and outcome",
            ["channel", "status"],
            registry=r,
        )
        self._refreshers: list[Callable[[], Awaitable[None]]] = []

    def count_request(self, route: str, status: int) -> None:
        """One HTTP request done. The labelled counter is looked up once per route template
        and status (a finite set), not on every request."""
        counter = self._request_counts.get((route, status))
        if counter is None:
            counter = self._request_counts[(route, status)] = self.requests.labels(route, str(status))
        counter.inc()

    def on_scrape(self, refresh: Callable[[], Awaitable[None]]) -> None:
        """Register a coroutine that updates gauges just before each scrape."""
        self._refreshers.append(refresh)

    async def refresh(self) -> None:
        for refresh in self._refreshers:
            await refresh()
