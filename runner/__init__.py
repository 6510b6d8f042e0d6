"""Headless runner: workflow executor, HTTP service and the ``playalter`` CLI."""
