"""The runner's own settings, added to the engine's (``pipelines/core/config.py``, the one loader).

The HTTP service's (switches per capability, request and key security, rate
limits, server, database, queue, video jobs, free-space reserve, log folder, saved-workflow folder)
and the workflow engine's (``embed_workflow_in_images``). Importing the
``runner`` package adds them (the pack's ComfyUI entry imports it too), so every
process loads, checks and shows them with the engine's through
``pipelines.config.settings()``, and one ``config.json`` serves the CLI, the
service and ComfyUI alike.
"""

from __future__ import annotations

from typing import Any

from ..pipelines.core.config import ConfigError, add_settings

RUNNER_DEFAULTS: dict[str, Any] = {
    "enable_face_detection": True,
    "enable_flame": True,
    "enable_privacy": True,
    "enable_face_swap": True,
    "embed_workflow_in_images": False,
    "paths": {
        "workflows_dir": "",
    },
    "security": {
        "max_body_mb": 64.0,
        "jwt_secret": "",
        "jwt_ttl_seconds": 900,
        "keys_db": "",
        "audit_db": "",
        "audit_checkpoint_secret": "",  # with a Postgres database.url: required, the same on every process
    },
    "rate_limit": {
        "storage": "memory://",
        "basic_per_hour": 100,
        "premium_per_hour": 500,
        "enterprise_per_hour": 2000,
        "max_concurrent_jobs": 4,
    },
    "server": {
        "host": "127.0.0.1",
        "port": 8188,
        "workers": 2,
        "queue_size": 32,
        "job_timeout_seconds": 300,
        "batch_max_images": 10,
        "result_ttl_seconds": 86400,
        "metrics_public": False,
        "onnx_threads": 0,
        "header_timeout_seconds": 10.0,  # request line + headers, from the first byte (or the connection)
        "body_timeout_seconds": 60.0,  # the whole body, from the end of the headers
        "keepalive_timeout_seconds": 75.0,  # idle keep-alive connection
        "max_connections": 1024,
        "max_connections_per_ip": 64,  # 0: no per-address cap (behind a reverse proxy)
        "shutdown_grace_seconds": 25.0,  # on SIGTERM, requests in flight get this long (below Kubernetes' 30 s)
    },
    "database": {
        "url": "",  # empty: SQLite files in paths.data_dir; postgresql://...: shared state and the job queue
    },
    "queue": {  # with a Postgres database.url: items run in `playalter worker` processes
        "lease_seconds": 30.0,  # a worker silent this long is dead: its items go to another worker
        "max_attempts": 2,  # deliveries of one item before it fails with code "interrupted"
    },
    "video": {  # the HTTP video jobs (/api/video/...)
        "max_upload_mb": 500.0,  # an uploaded video larger than this is refused (413) while it streams in
        "max_duration_seconds": 600.0,  # a longer video is refused (422) before it is queued
        "seconds_per_unit": 10.0,  # rate-limit cost: one unit per started span of this many seconds of video
        "job_timeout_seconds": 3600,  # a video job still running after this is stopped (timeout)
    },
    "storage": {
        # new work is refused (507) while less is free under the data or log folder, so that admitted work can
        # still record its results, audit rows and logs; the default holds one request body of the default
        # security.max_body_mb
        "min_free_mb": 64.0,
    },
    "webhooks": {  # job events sent to a caller's webhook_url (Standard Webhooks)
        "allow_private_targets": False,  # also loopback, private and link-local addresses (receivers on this network)
    },
    "logging": {
        "dir": "",  # the service's general/errors/performance/security logs; default <data_dir>/logs
    },
}


def check_runner_ranges(values: dict[str, Any]) -> None:
    """Refuse runner settings that have the right type but no meaning (a tier allowed no request...)."""
    for tier in ("basic", "premium", "enterprise"):
        if values["rate_limit"][f"{tier}_per_hour"] < 1:
            raise ConfigError(f"rate_limit.{tier}_per_hour must be at least 1")
    if values["security"]["jwt_ttl_seconds"] < 1:
        raise ConfigError("security.jwt_ttl_seconds must be at least 1")
    if values["rate_limit"]["max_concurrent_jobs"] < 1:
        raise ConfigError("rate_limit.max_concurrent_jobs must be at least 1")
    if values["database"]["url"] and not values["database"]["url"].startswith(("postgresql://", "postgres://")):
        raise ConfigError("database.url must be empty (SQLite) or a postgresql:// URL")
    if values["queue"]["lease_seconds"] < 2 or values["queue"]["max_attempts"] < 1:
        raise ConfigError("queue.lease_seconds must be at least 2 and queue.max_attempts at least 1")
    if not 0 <= values["server"]["port"] <= 65535:
        raise ConfigError("server.port must be 0-65535 (0: any free port)")
    if values["server"]["shutdown_grace_seconds"] < 0:
        raise ConfigError("server.shutdown_grace_seconds must be 0 or more")
    if values["storage"]["min_free_mb"] < 0:
        raise ConfigError("storage.min_free_mb must be 0 or more")
    video = values["video"]
    for name in ("max_upload_mb", "max_duration_seconds", "seconds_per_unit", "job_timeout_seconds"):
        if video[name] <= 0:
            raise ConfigError(f"video.{name} must be positive")


add_settings(RUNNER_DEFAULTS, check_runner_ranges)
