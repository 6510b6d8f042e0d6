"""``playalter validate WORKFLOW.json``: check a workflow without running it (exit 0 valid, 2 invalid)."""

from __future__ import annotations

import json
import sys
from . import add_input_option


def register(subparsers) -> None:
    parser = subparsers.add_parser("validate", help="check a saved workflow without running it")
    parser.add_argument("workflow", help="workflow JSON file (API or UI format)")
    add_input_option(parser, help="bindings the run would use (a bound image satisfies its LoadImage)")
    parser.add_argument("--input-dir", default=None, help="folder LoadImage file names are read from")
    parser.add_argument("--json", action="store_true", help="print ComfyUI-shaped errors as JSON on stdout")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..bindings import parse_cli_bindings
    from ..errors import WorkflowValidationError
    from ..executor import validate
    from ..registry import default_node_classes
    from ..workflow import load_workflow

    node_classes = default_node_classes()
    prompt = load_workflow(args.workflow, node_classes)
    try:
        validate(
            prompt,
            bindings=parse_cli_bindings(prompt, args.input, node_classes),
            input_dir=args.input_dir,
            node_classes=node_classes,
        )
    except WorkflowValidationError as error:
        sys.stderr.write(f"invalid: {error}\n")
        if args.json:
            sys.stdout.write(json.dumps(error.to_dict(), indent=2) + "\n")
        return 2
    sys.stderr.write(f"valid: {args.workflow} ({len(prompt)} nodes)\n")
    return 0
