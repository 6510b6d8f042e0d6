"""Prometheus metrics of one application, on its own registry.

- ``playalter_http_requests_total{endpoint,method,status}`` and
  ``playalter_http_request_duration_seconds{endpoint,method}``: every request,
  labelled by route pattern (``/api/jobs/{job_id}``), never by raw path;
- ``playalter_rate_limit_rejections_total{endpoint}``: requests answered 429;
- ``playalter_jobs{state}``: jobs in the store by state (read at scrape time);
- ``playalter_queue_depth`` and ``playalter_workers_busy``: the worker pool;
- ``playalter_model_load_seconds{model}``: onnxruntime model loads.

``metrics_middleware`` also writes one ``request`` record per answer to the performance log
(endpoint pattern, method, status, duration_ms).
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from ....pipelines.runtime import onnx_runtime
from ..errors import CLIENT_CLOSED_REQUEST
from ..jobs.queue.stats import THROUGHPUT_WINDOW_SECONDS, QueueView, throughput
from ..jobs.store import JobStore
from ..jobs.workers import WorkerPool
from ..logs import performance_log

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class _JobsByState:
    """Collector reading the job counts from the store when scraped."""

    def __init__(self, store: JobStore):
        self.store = store

    def collect(self):
        family = GaugeMetricFamily("playalter_jobs", "Jobs in the store, by state", labels=["state"])
        counts = self.store.count_by_state()
        for state in ("queued", "running", "completed", "failed", "cancelled"):
            family.add_metric([state], counts.get(state, 0))
        yield family


class _ItemsByState:
    """Items in the store by state; with the job queue, also live workers and each worker's throughput."""

    def __init__(self, store: JobStore, pool):
        self.store = store
        self.pool = pool

    def collect(self):
        family = GaugeMetricFamily("playalter_items", "Job items in the store, by state", labels=["state"])
        counts = self.store.items_by_state()
        for state in ("queued", "running", "completed", "failed", "cancelled"):
            family.add_metric([state], counts.get(state, 0))
        yield family
        if not isinstance(self.pool, QueueView):
            return
        yield GaugeMetricFamily("playalter_queue_workers", "Queue workers with a recent heartbeat",
                                value=self.pool.workers)
        rates = GaugeMetricFamily("playalter_worker_items_per_second",
                                  f"Items finished per second by each worker over the last "
                                  f"{THROUGHPUT_WINDOW_SECONDS} s", labels=["worker"])
        for worker, rate in sorted(throughput(self.store.db).items()):
            rates.add_metric([worker], rate)
        yield rates


class Metrics:
    """Prometheus metrics. ``playalter_queue_depth`` (items waiting for a worker) is the autoscaling signal: with
    the job queue it is the number of waiting queue jobs, the same on every replica (a KEDA prometheus scaler
    on it scales ``playalter worker`` deployments)."""

    def __init__(self, store: JobStore, pool: WorkerPool | QueueView):
        self.registry = CollectorRegistry()
        self.requests = Counter("playalter_http_requests_total", "HTTP requests",
                                ["endpoint", "method", "status"], registry=self.registry)
        self.latency = Histogram("playalter_http_request_duration_seconds", "HTTP request latency",
                                 ["endpoint", "method"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.rate_limited = Counter("playalter_rate_limit_rejections_total", "Requests refused by the rate limiter",
                                    ["endpoint"], registry=self.registry)
        self.model_load = Histogram("playalter_model_load_seconds", "Model load time", ["model"],
                                    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60), registry=self.registry)
        queue_depth = Gauge("playalter_queue_depth", "Items waiting for a worker", registry=self.registry)
        queue_depth.set_function(lambda: pool.queued)
        busy = Gauge("playalter_workers_busy", "Workers running an item", registry=self.registry)
        busy.set_function(lambda: pool.running)
        self.registry.register(_JobsByState(store))
        self.registry.register(_ItemsByState(store, pool))
        self.pool = pool
        onnx_runtime.add_load_listener(self.observe_model_load)

    def observe_model_load(self, model: str, seconds: float) -> None:
        self.model_load.labels(model=model).observe(seconds)

    def close(self) -> None:
        onnx_runtime.remove_load_listener(self.observe_model_load)

    def observe(self, request: web.Request, status: int, seconds: float) -> str:
        """Count one answered request; returns its endpoint label (the route pattern, never the raw path)."""
        route = request.match_info.route.resource
        endpoint = route.canonical if route is not None else "unmatched"
        self.requests.labels(endpoint, request.method, str(status)).inc()
        self.latency.labels(endpoint, request.method).observe(seconds)
        if status == 429:
            self.rate_limited.labels(endpoint).inc()
        return endpoint

    def render(self) -> web.Response:
        """The exposition (reads the database: call it off the event loop)."""
        if isinstance(self.pool, QueueView):
            self.pool.refresh()
        return web.Response(body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


METRICS = web.AppKey("metrics", Metrics)


def metrics_middleware(metrics: Metrics):
    @web.middleware
    async def middleware(request: web.Request, handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as error:
            status = error.status
            raise
        except asyncio.CancelledError:  # the client left and aiohttp cancelled the handler (handler_cancellation)
            status = CLIENT_CLOSED_REQUEST
            raise
        finally:
            seconds = time.perf_counter() - started
            endpoint = metrics.observe(request, status, seconds)
            performance_log.info("request", extra={"endpoint": endpoint, "method": request.method, "status": status,
                                                   "duration_ms": round(seconds * 1000, 3)})

    return middleware
