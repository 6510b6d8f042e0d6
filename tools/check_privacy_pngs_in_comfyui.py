"""Run the privacy workflows on a real ComfyUI server as its editor does; check the PNGs carry pixels only.

    python tools/check_privacy_pngs_in_comfyui.py PHOTO --server http://127.0.0.1:8188 --output COMFYUI/output

Each workflow is queued with the UI workflow in extra_pnginfo (what the editor sends); every saved PNG
must have no tEXt/iTXt/zTXt chunk and not contain the uploaded file name. A control run through the core
SaveImage shows the same check catching the embedded workflow. Exit status: the number of failures.
"""
import argparse
import json
import sys
import time
import urllib.request
import uuid
from pathlib import Path

arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
arguments.add_argument("photo", type=Path)
arguments.add_argument("--server", default="http://127.0.0.1:8188")
arguments.add_argument("--output", type=Path, required=True, help="the ComfyUI output folder")
options = arguments.parse_args()
BASE, T1, OUT = options.server.rstrip("/"), options.photo, options.output
WT = Path(__file__).resolve().parents[1] / "workflows"


def post(path, data, content_type="application/json"):
    request = urllib.request.Request(BASE + path, data=data, headers={"Content-Type": content_type})
    return json.loads(urllib.request.urlopen(request).read())


def upload(path):
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{path.name}\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return post("/upload/image", body, f"multipart/form-data; boundary={boundary}")["name"]


def chunks(path):
    data, types, offset = path.read_bytes(), [], 8
    while offset < len(data):
        length = int.from_bytes(data[offset:offset + 4], "big")
        types.append(data[offset + 4:offset + 8].decode())
        offset += 12 + length
    return types


def run(prompt, ui):
    answer = post("/prompt", json.dumps({"prompt": prompt, "extra_data": {"extra_pnginfo": {"workflow": ui}},
                                         "client_id": "h12d"}).encode())
    prompt_id = answer["prompt_id"]
    for _ in range(300):
        history = json.loads(urllib.request.urlopen(f"{BASE}/history/{prompt_id}").read())
        if prompt_id in history and history[prompt_id].get("status", {}).get("completed") is not None:
            return history[prompt_id]
        time.sleep(1)
    raise SystemExit("timed out")


name = upload(T1)
failures = 0
for workflow in ("privacy_blur", "privacy_audit", "privacy_pixelate_levels"):
    prompt = json.loads((WT / "api" / f"{workflow}.json").read_text())
    prompt["1"]["inputs"]["image"] = name
    ui = json.loads((WT / "ui" / f"{workflow}.json").read_text())
    entry = run(prompt, ui)
    print(workflow, "status:", entry["status"]["status_str"])
    for node_id, output in entry["outputs"].items():
        for image in output.get("images", []):
            path = OUT / image["subfolder"] / image["filename"]
            kinds = chunks(path)
            text = [k for k in kinds if k in ("tEXt", "iTXt", "zTXt")]
            print(f"  node {node_id} {image['subfolder']}/{image['filename']} chunks={sorted(set(kinds))} text={text}"
                  f" contains_input_name={name.encode() in path.read_bytes()}")
            failures += bool(text) or name.encode() in path.read_bytes()
        for key in output:
            if key != "images":
                print(f"  node {node_id} ui.{key}: {str(output[key])[:100]}")
# control: the core SaveImage embeds the workflow in the same ComfyUI
control = json.loads((WT / "api" / "privacy_blur.json").read_text())
control["1"]["inputs"]["image"] = name
control["4"]["class_type"] = "SaveImage"
control["4"]["inputs"]["filename_prefix"] = "control/core_save"
del control["5"]
entry = run(control, {"note": "ui workflow"})
for output in entry["outputs"].values():
    for image in output.get("images", []):
        path = OUT / image["subfolder"] / image["filename"]
        print("control core SaveImage:", image["filename"], [k for k in chunks(path) if k.endswith("Xt")],
              "contains_input_name=", name.encode() in path.read_bytes())
print("failures:", failures)
sys.exit(failures)
