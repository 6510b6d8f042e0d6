"""The runner's import of the quoting rules, which live in ``pipelines/core/quoting.py`` so that the engine's
own messages (a colour, a strength) follow them too."""

from ...pipelines.core.quoting import EXCERPT_CHARACTERS, excerpt, quoted, short_value

__all__ = ["EXCERPT_CHARACTERS", "excerpt", "quoted", "short_value"]
