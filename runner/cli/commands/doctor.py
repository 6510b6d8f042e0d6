"""``playalter doctor``: the whole installation in one view, for a person or (``--json``) a machine.

Versions, which onnxruntime builds are installed (and the command that fixes a pair), where models run
and why, models present and missing, the ComfyUI folders around the pack, and the extras installed. The
facts are ``runner/installation.py``'s, the same ``/api/services/status`` carries. It exits 0 whatever it
finds: it reports, it does not judge.
"""

from __future__ import annotations

import json
import sys

from ..extras import install_command


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "doctor", help="show the installation: versions, onnxruntime builds, execution path, models, ComfyUI, extras",
        description="Print what is installed and how it fits together, with the fix for what is wrong.",
    )
    parser.add_argument("--json", action="store_true", help="print the facts as JSON")
    parser.set_defaults(func=run)


def _distributions(found: dict[str, str]) -> str:
    return ", ".join(f"{name} {version}" for name, version in found.items()) or "not installed"


def _folder(entry: dict) -> str:
    return entry["path"] + ("" if entry["exists"] else "  (missing)")


def describe(facts: dict) -> list[str]:
    """The facts as lines for people."""
    packages = facts["packages"]
    python = packages["python"]
    lines = [
        f"playalter    {facts['playalter']}",
        f"python       {python['version']}  ({python['executable']})",
        f"torch        {packages['torch'] or 'not installed'}",
        f"numpy        {packages['numpy'] or 'not installed'}",
        f"opencv       {_distributions(packages['opencv'])}",
        f"onnxruntime  {_distributions(packages['onnxruntime'])}",
    ]
    problem = facts["onnxruntime_problem"]
    if problem:
        lines += [f"  problem: {problem['message']}", f"  fix:     {problem['fix']}"]
    execution = facts["execution"]
    lines += ["", f"models run on: {execution['path'] or 'nothing'} ({execution['reason']})", ""]
    models = facts["models"]
    lines.append(f"models present: {', '.join(models['present']) or 'none'}")
    for missing in models["missing"]:
        lines += [f"model missing:  {missing['name']}", f"    get it: {missing['how_to_obtain']}"]
    lines.append("models are searched in:")
    for kind, folders in models["search_dirs"].items():
        lines += [f"    {kind}: {folder}" for folder in folders]
    lines.append("")
    comfyui = facts["comfyui"]
    if comfyui["root"] is None:
        lines.append(f"ComfyUI: none found (the pack at {comfyui['pack']} is not in a ComfyUI custom_nodes folder)")
    else:
        lines += [f"ComfyUI:      {comfyui['root']}"] + [
            f"  {name + ':':<11} {_folder(comfyui[name])}" for name in ("models", "input", "output")]
        comfy_models = comfyui["models"]["path"]
        searched = [folder for folders in models["search_dirs"].values() for folder in folders]
        if comfyui["models"]["exists"] and not any(folder.startswith(comfy_models) for folder in searched):
            lines.append(f"  outside ComfyUI, models are not looked for there: set PLAYALTER_MODELS_DIR={comfy_models}")
    lines.append("")
    for extra, state in facts["extras"].items():
        if state["installed"]:
            lines.append(f"extra {extra + ':':<7} installed")
        else:
            lines += [f"extra {extra + ':':<7} not installed (missing: {', '.join(state['missing'])})",
                      f"    install it: {install_command(extra)}"]
    return lines


def run(args) -> int:
    from ...installation import facts

    found = facts()
    if args.json:
        sys.stdout.write(json.dumps(found, indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(describe(found)) + "\n")
    return 0
