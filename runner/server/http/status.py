"""``/api/services/status``: what this server can do now.

Per capability: whether it is switched on, its workflows, and whether it is
``usable`` (``reason`` says why not, or what is degraded); per option whose
model may be absent (synthetic faces, FLAME, the 3D mesh, InSwapper) the
same. The web page greys out what is not usable, with the reason. ``installation`` holds the facts
``playalter doctor`` prints (``runner/installation.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from .... import __version__
from ....pipelines import models
from ....pipelines.runtime import onnx_runtime
from ....pipelines.swap.choices import SWAP_MODELS
from ... import installation
from ..jobs.operations import OPERATIONS
from ..jobs.workflows import WORKFLOWS
from ..response_schemas import ref
from ..route_docs import documented
from ..state import SETTINGS

routes = web.RouteTableDef()

# capability -> option ("parameter=value" or "parameter") -> models it needs
OPTION_MODELS: dict[str, dict[str, tuple[str, ...]]] = {
    "analyze": {"measurement_model=flame": ("flame",), "include_3d_mesh": ("face_mesh", "iris")},
    "privacy": {"mask_type=synthetic": ("inswapper_128", "buffalo_l")},
    "swap": {"method=inswapper": ("inswapper_128",),
             **{f"swap_model={name}": (name,) for name in SWAP_MODELS if name != "auto"}},
}
# capability -> (models of which one is enough, why it is degraded without any of them)
DEGRADED = {"swap": (tuple(name for name in SWAP_MODELS if name != "auto"),
                     "no swap model (inswapper_128, hyperswap_1a_256, ...) is installed: swaps use the model-free "
                     "landmark warp (lower quality); install one, e.g. `playalter models fetch inswapper_128`")}


def _missing(needed: tuple[str, ...], available: dict[str, bool]) -> list[str]:
    return [name for name in needed if not available.get(name, False)]


def _install_hint(missing: list[str]) -> str:
    return (f"needs the model(s) {', '.join(missing)}, not installed on this server "
            f"(`playalter models fetch {' '.join(missing)}`)")


def capability_status(name: str, enabled: bool, workflows: dict[str, bool],
                      available: dict[str, bool]) -> dict[str, Any]:
    """``usable`` and ``reason`` of one capability, with its options'."""
    reason = None
    if not enabled:
        reason = "switched off on this server"
    elif not all(workflows.values()):
        reason = f"workflow(s) missing: {', '.join(sorted(n for n, present in workflows.items() if not present))}"
    usable = reason is None
    if usable and name in DEGRADED and not any(available.get(model, False) for model in DEGRADED[name][0]):
        reason = DEGRADED[name][1]
    options = {}
    for option, needed in OPTION_MODELS.get(name, {}).items():
        missing = _missing(needed, available)
        options[option] = {"usable": usable and not missing,
                           "reason": None if usable and not missing else (_install_hint(missing) if missing
                                                                          else reason)}
    return {"usable": usable, "reason": reason, "options": options}


@routes.get("/api/services/status", name="services.status")
@documented("Capabilities and models", "Which operations are enabled, which workflows and models are present, "
            "and per capability and option whether it is `usable` now (`reason` says why not, or what is "
            "degraded, e.g. a swap without InSwapper), and `execution`: where models run (`path`) and why "
            "(`reason`); `installation`: versions, onnxruntime builds, models, ComfyUI folders and extras, as "
            "`playalter doctor` prints them.", tag="service", answer="status",
            answer_schema={"type": "object", "properties": {"installation": ref("Installation")}})
async def services_status(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    catalog = request.app[WORKFLOWS]
    available = await asyncio.to_thread(lambda: {name: models.is_available(name) for name in models.REGISTRY})
    obtainable = {name: available[name] or (spec.fetch_on_first_use and settings.models.auto_fetch)
                  for name, spec in models.REGISTRY.items()}  # what a run can use, fetched on first use if need be
    execution = await asyncio.to_thread(lambda: onnx_runtime.execution_path().to_dict())
    installed = await asyncio.to_thread(installation.facts)
    workflows = set(catalog.names())
    capabilities = {}
    for operation in OPERATIONS.values():
        enabled = getattr(settings, operation.switch)
        present = {name: name in workflows for name in operation.workflows}
        capabilities[operation.name] = {"enabled": enabled, "scope": operation.scope, "workflows": present,
                                        **capability_status(operation.name, enabled, present, obtainable)}
    return web.json_response({
        "version": __version__,
        "capabilities": capabilities,
        "models": {
            name: {"available": available[name], "embedded": spec.embedded, "description": spec.description,
                   "features": list(spec.features), "licence": spec.licence,
                   **({} if available[name] else {"how_to_obtain": spec.how_to_obtain})}
            for name, spec in models.REGISTRY.items()
        },
        "workflows": sorted(workflows),
        "execution": execution,
        "installation": installed,
    })
