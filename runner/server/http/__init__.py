"""The HTTP surface of the service: the aiohttp app, endpoints, request schemas, errors and OpenAPI."""
