"""The saved workflows the service may run, found by name only.

A name is a plain word (letters, digits, ``_``, ``-``); it is looked up as
``<name>.json`` in the configured folder (``paths.workflows_dir``, which may
override a built-in) and then in the package's ``workflows/api/``. A name can
never be a path, so a client cannot make the service read any other file.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from aiohttp import web

from ....pipelines.core.config import Section
from ....pipelines.core.quoting import excerpt
from ..errors import ApiError

# matched whole with fullmatch: "$" would also match before a final newline ("privacy_blur\n")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
BUILTIN_DIR = Path(__file__).resolve().parents[3] / "workflows" / "api"


class WorkflowCatalog:
    def __init__(self, settings: Section):
        configured = settings.paths.workflows_dir
        self.folders = [Path(configured).expanduser().resolve()] if configured else []
        self.folders.append(BUILTIN_DIR)
        self._cache: dict[Path, tuple[float, dict]] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        found = {path.stem for folder in self.folders if folder.is_dir() for path in folder.glob("*.json")}
        return sorted(name for name in found if NAME_PATTERN.fullmatch(name))

    def path(self, name: str) -> Path:
        """The file of workflow ``name``; ApiError 400 for a malformed name, 404 for an unknown one."""
        if not NAME_PATTERN.fullmatch(name):
            raise ApiError(400, "invalid_workflow_name",
                           "a workflow name is 1-64 letters, digits, '_' or '-' (no paths); see GET /api/workflows")
        for folder in self.folders:
            candidate = folder / f"{name}.json"
            if candidate.is_file() and candidate.resolve().parent == folder.resolve():
                return candidate
        raise ApiError(404, "workflow_not_found", f"no saved workflow named '{excerpt(name)}'; see GET /api/workflows")

    def load(self, name: str) -> dict:
        """The workflow in API format (UI-format files are converted), cached until the file changes."""
        from ...engine.workflow import load_workflow

        path = self.path(name)
        modified = path.stat().st_mtime
        with self._lock:
            cached = self._cache.get(path)
            if cached is not None and cached[0] == modified:
                return cached[1]
        prompt = load_workflow(path)
        with self._lock:
            self._cache[path] = (modified, prompt)
        return prompt


WORKFLOWS = web.AppKey("workflows", WorkflowCatalog)
