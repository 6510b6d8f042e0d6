"""Headless runner: workflow executor, HTTP service and the ``playalter`` CLI.

Importing the package adds the runner's settings to the engine's (``settings.py``)
before any runner module reads them.
"""

from . import settings  # noqa: F401  (imported for what it adds to pipelines.config)
