"""The HTTP service: aiohttp app, auth, rate limits, jobs, audit log and metrics."""
