"""``playalter validate WORKFLOW.json``: check a workflow without running it (exit 0 valid, 2 invalid).

A LoadImage (LoadVideo) whose file is neither bound with ``--input`` nor in
the input folder (the shipped workflows name placeholders such as
``example.png``) is checked with a stand-in, and a note says that a run needs
``--input TITLE=PHOTO`` (``=VIDEO``).
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

from . import add_input_option

LOADERS = {"LoadImage": ("image", "PHOTO"), "LoadVideo": ("file", "VIDEO")}  # class -> (file input, what to bind)


def register(subparsers) -> None:
    parser = subparsers.add_parser("validate", help="check a saved workflow without running it")
    parser.add_argument("workflow", help="workflow JSON file (API or UI format)")
    add_input_option(parser, help="bindings the run would use (a bound image satisfies its LoadImage)")
    parser.add_argument("--input-dir", default=None, help="folder LoadImage file names are read from")
    parser.add_argument("--json", action="store_true", help="print ComfyUI-shaped errors as JSON on stdout")
    parser.set_defaults(func=run)


def _stand_in_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _unbound_images(prompt: dict, bindings: dict, input_dir: Path) -> dict[str, str]:
    """Loader node id -> its title (or id), for images and videos neither bound nor present in ``input_dir``."""
    from ....nodes.files import resolve_inside
    from ....pipelines.core.errors import InvalidParameterError
    from ...engine.bindings import resolve_binding_key

    bound = {resolve_binding_key(prompt, key)[0] for key in bindings}
    missing = {}
    for node_id, node in prompt.items():
        if node.get("class_type") not in LOADERS or node_id in bound:
            continue
        name = node.get("inputs", {}).get(LOADERS[node["class_type"]][0])
        if not isinstance(name, str):
            continue
        try:
            present = resolve_inside(input_dir, name).is_file()
        except InvalidParameterError:
            continue  # an unsafe name: validation reports it
        if not present:
            missing[node_id] = (node.get("_meta") or {}).get("title") or node_id
    return missing


def run(args) -> int:
    from ....nodes import compat
    from ...engine.bindings import parse_cli_bindings
    from ...engine.errors import WorkflowValidationError
    from ...engine.executor import validate
    from ...engine.registry import default_node_classes
    from ...engine.workflow import load_workflow

    node_classes = default_node_classes()
    prompt = load_workflow(args.workflow, node_classes)
    bindings = parse_cli_bindings(prompt, args.input, node_classes)
    input_dir = Path(args.input_dir) if args.input_dir else compat.folder("input")
    needed = _unbound_images(prompt, bindings, input_dir)
    stand_in = _stand_in_png() if needed else b""
    try:
        validate(
            prompt,
            bindings={**bindings, **{node_id: stand_in for node_id in needed}},
            input_dir=args.input_dir,
            node_classes=node_classes,
        )
    except WorkflowValidationError as error:
        sys.stderr.write(f"invalid: {error}\n")
        if args.json:
            sys.stdout.write(json.dumps(error.to_dict(), indent=2) + "\n")
        return 2
    sys.stderr.write(f"valid: {args.workflow} ({len(prompt)} nodes)\n")
    for node_id, title in needed.items():
        class_type = prompt[node_id]["class_type"]
        file_input, what = LOADERS[class_type]
        name = prompt[node_id]["inputs"][file_input]
        sys.stderr.write(f"note: {class_type} '{title}' (node {node_id}) names '{name}', "
                         f"which is not in the input folder: a run needs --input {title}={what}\n")
    return 0
