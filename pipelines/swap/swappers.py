"""The learned swap models the pack runs, each one's input contract, and which one a swap uses.

Every model takes an aligned face crop (input ``target``, [1,3,size,size]) and an identity vector
(input ``source``, [1,512]) and returns the crop with the face replaced (the first output,
[1,3,size,size]). They differ in what the tensors hold; ``Contract`` records it, with the source of
each fact in docs/swap.md ("Swap models").

``auto`` takes the first installed model of ``PREFERENCE``: the 256-px models first, HyperSwap 1a
leading as facefusion's default does, InSwapper 128 last (the ordering is the publishers', not a
measurement of ours).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import models

FEATURE = "face swap (learned model)"


@dataclass(frozen=True)
class Contract:
    """What one swap model expects and returns."""

    name: str  # registry name; the file is <name>.onnx
    size: int  # side of the aligned input crop and of the output, pixels
    pixels: str  # "unit": RGB / 255 in 0..1, in and out; "signed": (RGB / 255 - 0.5) / 0.5 in -1..1, in and out
    identity: str  # "latent": normalise(normalise(ArcFace) @ emap), emap [512,512] the model's last initializer;
    #                "embedding": the normalised ArcFace embedding itself
    template_shift: float = 0.0  # pixels added to both coordinates of the alignment template at ``size``

    @property
    def uses_emap(self) -> bool:
        return self.identity == "latent"


CONTRACTS: dict[str, Contract] = {contract.name: contract for contract in (
    Contract("hyperswap_1a_256", 256, "signed", "embedding"),
    Contract("hyperswap_1b_256", 256, "signed", "embedding"),
    Contract("hyperswap_1c_256", 256, "signed", "embedding"),
    Contract("reswapper_256", 256, "unit", "latent", template_shift=128 / 32768 * 256 - 0.5),
    Contract("inswapper_128", 128, "unit", "latent"),
)}
PREFERENCE = tuple(CONTRACTS)  # the order ``auto`` tries


def installed() -> list[str]:
    """The swap models whose files are present, in ``PREFERENCE`` order."""
    return [name for name in PREFERENCE if models.is_available(name)]


def choose(requested: str) -> str | None:
    """The model a learned swap uses: ``requested`` when it names one (ModelMissingError, naming the
    folders searched, when its file is absent), else the first installed one; None when none is."""
    if requested != "auto":
        models.resolve(requested, FEATURE)
        return requested
    present = installed()
    return present[0] if present else None
