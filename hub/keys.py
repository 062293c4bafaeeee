"""Every ``web.AppKey`` of the application: typed state, never ``app["string"]``."""

from __future__ import annotations

import asyncio
import weakref

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web

from connectors.base import ConnectorContext, Services
from hub.auth.sessions import SessionService
from hub.automation.config import AutomationConfig
from hub.automation.runner import Runner as AutomationRunner
from hub.clock import Clock
from hub.csat.config import CsatConfig
from hub.csat.surveys import Surveys
from hub.customers.health_config import HealthConfig
from hub.customers.records import CustomerRecords
from hub.customers.tier_config import TierConfig
from hub.dispatch.call_target import CallTargets
from hub.dispatch.inbox import Inbox
from hub.dispatch.router import Router
from hub.dispatch.rules_config import RoutingConfig
from hub.metrics import Metrics
from hub.model import InboundMessage
from hub.outbox.replies import InStore
from hub.outbox.worker import OutboxWorker
from hub.outreach.approvals import Approvals
from hub.outreach.campaigns import Campaigns
from hub.outreach.config import ContactPolicyConfig
from hub.outreach.feedback import ProductFeedback
from hub.outreach.start import Outreach
from hub.queue.base import IngestQueue
from hub.realtime.bus import InProcessBus
from hub.routespec import RouteSpec
from hub.settings import Settings
from hub.store.blobs import BlobStore
from hub.store.engine import Store
from hub.tokens import TokenService
from hub.widget.fanout import WidgetFanout
from hub.widget.service import WidgetService

SETTINGS = web.AppKey("settings", Settings)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")  # the one clock every service is handed (hub/clock.py)
STORE = web.AppKey("store", Store)
QUEUE = web.AppKey("queue", IngestQueue[InboundMessage])
BUS = web.AppKey("bus", InProcessBus)
METRICS = web.AppKey("metrics", Metrics)
TOKENS = web.AppKey("tokens", TokenService)
HTTP = web.AppKey("http", aiohttp.ClientSession)
ROUTES = web.AppKey("routes", list[RouteSpec])
BLOBS = web.AppKey("blobs", BlobStore)
REDIS = web.AppKey("redis", aioredis.Redis)
WORKERS = web.AppKey("workers", list[asyncio.Task[None]])
SESSIONS = web.AppKey("sessions", SessionService)
RECORDS = web.AppKey("records", CustomerRecords)
ROUTING = web.AppKey("routing", RoutingConfig)
TIERS = web.AppKey("tiers", TierConfig)
HEALTH = web.AppKey("health", HealthConfig)
AUTOMATIONS = web.AppKey("automations", AutomationConfig)
AUTOMATION_RUNNER = web.AppKey("automation_runner", AutomationRunner)
CSAT = web.AppKey("csat", CsatConfig)
SURVEYS = web.AppKey("surveys", Surveys)
CONTACT_POLICY = web.AppKey("contact_policy", ContactPolicyConfig)
OUTREACH = web.AppKey("outreach", Outreach)
APPROVALS = web.AppKey("approvals", Approvals)
CAMPAIGNS = web.AppKey("campaigns", Campaigns)
FEEDBACK = web.AppKey("feedback", ProductFeedback)
INBOX = web.AppKey("inbox", Inbox)
OUTBOX = web.AppKey("outbox", OutboxWorker)
SOCKETS = web.AppKey("sockets", weakref.WeakSet[web.WebSocketResponse])
ROUTER = web.AppKey("router", Router)
CALL_TARGETS = web.AppKey("call_targets", CallTargets)
WIDGET = web.AppKey("widget", WidgetService)
WIDGET_FANOUT = web.AppKey("widget_fanout", WidgetFanout)
IN_STORE = web.AppKey("in_store", dict[str, InStore])  # channels delivered in the reply's transaction
SERVICES = web.AppKey("services", Services)  # what connectors are handed, and their states
CONNECTOR_CONTEXT = web.AppKey("connector_context", ConnectorContext)  # what every connector is handed
