"""User input -> the options of a swap: the one builder the node, the CLI and the HTTP video job share.

Every entry point names its inputs alike (node inputs, CLI flag destinations, JSON fields), so one
mapping of those names gives the same options everywhere:

    method, pairing, target_indices, swap_model, output_size, swap_weight    -> SwapOptions
    color_correction, blend_mode, feather, occlusion, mouth, sharpen, denoise -> its BlendOptions
    restore_model ("none" or a model), restore_strength, codeformer_fidelity  -> its RestoreOptions

A name left out takes its default (that of ``SwapOptions`` and ``BlendOptions``); names not listed are
not read, so a caller may pass all of its inputs. Which source face is used is not read here: each entry
point finds its source its own way (source photos and indices on the node, one face of one photo for a
video). A video swaps chosen tracks instead of ``pairing`` and ``target_indices``, so its entry points
leave those two out.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..core.errors import InvalidParameterError
from ..core.quoting import quoted
from ..engine.selection import parse_indices
from .blend import BlendOptions
from .choices import RESTORE_MODELS
from .pipeline import SwapOptions
from .restore.faces import RestoreOptions

BLEND_FIELDS = {"color_correction": "color", "blend_mode": "mode", "feather": "feather", "occlusion": "occlusion",
                "mouth": "mouth", "sharpen": "sharpen", "denoise": "denoise"}  # input name -> BlendOptions field
SWITCHES = ("occlusion", "mouth")  # must be true or false
FRACTIONS = ("feather", "sharpen", "denoise", "swap_weight", "restore_strength",
             "codeformer_fidelity")  # must be numbers from 0 to 1
RESTORE_FIELDS = {"restore_strength": "strength", "codeformer_fidelity": "fidelity"}  # -> RestoreOptions field
SWAP_FIELDS = ("method", "pairing", "target_indices", "swap_model", "output_size", "swap_weight")


def swap_request(values: Mapping[str, Any]) -> SwapOptions:
    """The validated swap options of ``values`` (see the module docstring for the names);
    InvalidParameterError naming the input when one is wrong."""
    for name in SWITCHES:
        if name in values and not isinstance(values[name], bool):
            raise InvalidParameterError(f"{name} must be true or false, got {quoted(values[name])}")
    for name in FRACTIONS:
        if name in values and (isinstance(values[name], bool) or not isinstance(values[name], (int, float))):
            raise InvalidParameterError(f"{name} must be a number from 0 to 1, got {quoted(values[name])}")
    if "target_indices" in values:
        _check_indices(values["target_indices"])
    if "output_size" in values and (isinstance(values["output_size"], bool)
                                    or not isinstance(values["output_size"], int)):
        raise InvalidParameterError(f"output_size must be 128, 256 or 512, got {quoted(values['output_size'])}")
    blend = BlendOptions(**{field: values[name] for name, field in BLEND_FIELDS.items() if name in values})
    return SwapOptions(blend=blend, restore=_restore(values),
                       **{name: values[name] for name in SWAP_FIELDS if name in values})


def _restore(values: Mapping[str, Any]) -> RestoreOptions | None:
    """The face restoration a swap asks for with ``restore_model`` (absent or "none": no restoration)."""
    model = values.get("restore_model", "none")
    if model == "none":
        return None
    if model not in RESTORE_MODELS:
        raise InvalidParameterError(
            f"restore_model must be none or one of {', '.join(RESTORE_MODELS)}, got {quoted(model)}")
    return RestoreOptions(model, **{field: values[name] for name, field in RESTORE_FIELDS.items() if name in values})


def _check_indices(text: Any) -> None:
    """``target_indices`` is "all" (or empty) or face numbers like "0,2"."""
    if not isinstance(text, str):
        raise InvalidParameterError(f"target_indices must be text such as \"0,2\" or \"all\", got {quoted(text)}")
    if text.strip().lower() not in ("", "all"):
        try:
            parse_indices(text)
        except InvalidParameterError as error:
            raise InvalidParameterError(f"target_indices: {error}") from None
