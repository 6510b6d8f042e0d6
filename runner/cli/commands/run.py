"""``playalter run WORKFLOW.json``: run a saved workflow here (or on a ComfyUI server with --remote).

Exit codes: 0 done; 2 usage, workflow or binding error (nothing ran); 3 a node
failed; 4 the --remote server is unreachable; 130 cancelled (Ctrl-C).
"""

from __future__ import annotations

import json
import sys
import threading

from . import add_input_option

EXIT_OK = 0
EXIT_INVALID = 2
EXIT_NODE_FAILED = 3
EXIT_REMOTE_UNREACHABLE = 4
EXIT_CANCELLED = 130


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a saved workflow (API or UI format)",
        description="Run a saved workflow. Exit codes: 0 done, 2 invalid workflow/input, 3 a node failed, "
        "4 remote server unreachable, 130 cancelled.",
    )
    parser.add_argument("workflow", help="workflow JSON file (API or UI format)")
    add_input_option(parser, help="bind a value by node id or title: image=photo.jpg (LoadImage), privacy.strength=0.8")
    parser.add_argument("--out", "-o", default=None, help="output folder (default: settings paths.output_dir)")
    parser.add_argument("--input-dir", default=None, help="folder LoadImage file names are read from")
    parser.add_argument("--remote", metavar="URL", default=None, help="run on this ComfyUI server instead")
    parser.add_argument("--json", action="store_true", help="print the result (or error) as JSON on stdout")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.remote:
        from ..extras import require

        require("server")  # websocket-client, ComfyUI's progress channel
    from ...engine.bindings import parse_cli_bindings
    from ...engine.errors import NodeExecutionError, RemoteUnavailableError, WorkflowCancelled
    from ..progress_bar import ProgressBar
    from ...engine.registry import default_node_classes
    from ...engine.workflow import load_workflow
    from ....pipelines.core.errors import PlayalterError

    node_classes = default_node_classes()
    progress = None if args.quiet else ProgressBar(sys.stderr)
    cancel = threading.Event()
    finished = threading.Event()
    outcome: dict = {}

    def work() -> None:
        try:
            if args.remote:
                from ...engine.remote import RemoteRunner

                runner = RemoteRunner(args.remote)
                remote_classes = runner.node_classes()
                prompt = load_workflow(args.workflow, remote_classes)
                bindings = parse_cli_bindings(prompt, args.input, remote_classes)
                outcome["result"] = runner.execute(
                    prompt, bindings=bindings, output_dir=args.out, on_progress=progress, cancel_event=cancel
                )
            else:
                from ...engine.executor import execute

                prompt = load_workflow(args.workflow, node_classes)
                bindings = parse_cli_bindings(prompt, args.input, node_classes)
                outcome["result"] = execute(
                    prompt,
                    bindings=bindings,
                    input_dir=args.input_dir,
                    output_dir=args.out,
                    on_progress=progress,
                    cancel_event=cancel,
                    node_classes=node_classes,
                )
        except BaseException as error:  # handed to the main thread
            outcome["error"] = error
        finally:
            finished.set()

    # The run goes on a worker thread so that Ctrl-C (delivered to the main thread) becomes a clean cancel.
    threading.Thread(target=work, name="playalter-run", daemon=True).start()
    try:
        while not finished.wait(0.2):
            pass
    except KeyboardInterrupt:
        cancel.set()
        finished.wait()
    if progress is not None:
        progress.close()

    error = outcome.get("error")
    if error is None:
        return _report_result(outcome["result"], args.json)
    codes = [
        (WorkflowCancelled, EXIT_CANCELLED),
        (NodeExecutionError, EXIT_NODE_FAILED),
        (RemoteUnavailableError, EXIT_REMOTE_UNREACHABLE),
        (PlayalterError, EXIT_INVALID),
    ]
    for error_type, code in codes:
        if isinstance(error, error_type):
            _report_error(error, args.json)
            return code
    raise error


def _report_result(result, as_json: bool) -> int:
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
        return EXIT_OK
    for entry in result.outputs.values():
        for ref in entry["images"] + entry["files"]:
            sys.stdout.write(f"{ref.path or ref.filename}\n")
        for text in entry["json"]:
            sys.stdout.write(f"{text}\n")
    return EXIT_OK


def _report_error(error, as_json: bool) -> None:
    sys.stderr.write(f"error: {error}\n")
    if as_json:
        payload = error.to_dict() if hasattr(error, "to_dict") else {"type": error.code, "message": str(error)}
        sys.stdout.write(json.dumps({"error": payload}, indent=2) + "\n")
