"""``playalter convert WORKFLOW.json [--to api|ui]``: print the workflow in the other format."""

from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("convert", help="convert a workflow between UI format and API format")
    parser.add_argument("workflow", help="workflow JSON file (API or UI format)")
    parser.add_argument("--to", choices=("api", "ui"), default="api", help="target format (default: api)")
    parser.add_argument(
        "--remote", metavar="URL", default=None, help="take node definitions from this ComfyUI server (/object_info)"
    )
    parser.add_argument("--output", "-o", default=None, help="write here instead of stdout")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ...engine.registry import default_node_classes
    from ...engine.ui_format import api_to_ui, local_definitions, ui_to_api
    from ...engine.workflow import is_ui_format, load_workflow, read_json

    if args.remote:
        from ...engine.remote import RemoteRunner

        definitions = RemoteRunner(args.remote).definitions()
    else:
        definitions = local_definitions(default_node_classes())
    workflow = read_json(args.workflow)
    api = ui_to_api(workflow, definitions=definitions) if is_ui_format(workflow) else load_workflow(workflow)
    converted = api if args.to == "api" else api_to_ui(api, definitions=definitions)
    text = json.dumps(converted, indent=2) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0
