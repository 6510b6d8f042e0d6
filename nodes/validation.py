"""The answer of a node's ``VALIDATE_INPUTS``: ComfyUI wants True, or a message that it shows on the node."""

from __future__ import annotations


def first_error(*checks) -> str | bool:
    """True when every check passes, else the message of the first ``InvalidParameterError`` one raises."""
    from ..pipelines.core.errors import InvalidParameterError

    try:
        for check in checks:
            check()
    except InvalidParameterError as error:
        return str(error)
    return True
