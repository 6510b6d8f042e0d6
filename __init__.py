"""PLAYALTER: face toolkit for ComfyUI.

ComfyUI imports this file as a package named after the folder it lives in.
Importing it only registers node classes: no model, onnxruntime or torch-heavy
code is loaded here.
"""

if __package__:
    from . import runner  # noqa: F401  (config.json and PLAYALTER__* may hold the runner's settings here too)
    from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
else:  # run as a plain module: pytest does this to the repository root when its folder name has a hyphen
    NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = {}, {}

__version__ = "0.1.0"
WEB_DIRECTORY = None

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY", "__version__"]
