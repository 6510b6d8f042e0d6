"""ComfyUI node classes, one module per node family.

Every module in this package that defines ``NODE_CLASS_MAPPINGS`` (and
``NODE_DISPLAY_NAME_MAPPINGS``) is collected here; adding a node family is
adding a module.
"""

import importlib
import pkgutil

NODE_CLASS_MAPPINGS: dict[str, type] = {}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}

for _module_info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
    _module = importlib.import_module(f".{_module_info.name}", __name__)
    NODE_CLASS_MAPPINGS.update(getattr(_module, "NODE_CLASS_MAPPINGS", {}))
    NODE_DISPLAY_NAME_MAPPINGS.update(getattr(_module, "NODE_DISPLAY_NAME_MAPPINGS", {}))
