"""Run a workflow on a ComfyUI server, with the same bindings, events, results and errors as a local run.

    runner = RemoteRunner("http://127.0.0.1:8188")
    result = runner.execute(load_workflow(path, runner.node_classes()), bindings={"image": Path("me.jpg")},
                            output_dir="out")

Protocol (ComfyUI's server.py): bound images go up through ``POST /upload/image``
(multipart), the prompt through ``POST /prompt`` with our ``client_id``, progress
arrives over ``/ws?clientId=`` (status, execution_start, execution_cached,
executing, progress, executed, execution_success, execution_error,
execution_interrupted), outputs come from ``GET /history/{prompt_id}`` and the
files from ``GET /view``. A 400 from ``/prompt`` becomes WorkflowValidationError
(old string errors and list-shaped node_errors normalised), an
``execution_error`` a NodeExecutionError, an interruption WorkflowCancelled.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from collections.abc import Mapping

from ...nodes.files import resolve_inside
from .bindings import apply_bindings
from .errors import NodeExecutionError, RemoteUnavailableError, WorkflowCancelled, WorkflowValidationError
from .executor import FileRef, ProgressCallback, ProgressEvent, RunResult, execution_order
from .output_names import write_new
from .ui_format import Definitions, object_info_definitions

log = logging.getLogger(__name__)


class RemoteRunner:
    def __init__(self, url: str, *, timeout: float = 30.0, run_timeout: float = 3600.0):
        self.url = url.rstrip("/")
        if not self.url.startswith(("http://", "https://")):
            self.url = "http://" + self.url
        self.timeout = timeout
        self.run_timeout = run_timeout
        self._object_info: dict | None = None

    # -- HTTP -----------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        accept_status: tuple[int, ...] = (200,),
    ) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            payload = error.read()
            if error.code in accept_status:
                return error.code, payload
            raise RemoteUnavailableError(
                f"ComfyUI at {self.url} answered {method} {path} with HTTP {error.code}: {payload[:300]!r}"
            ) from error
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise RemoteUnavailableError(
                f"cannot reach ComfyUI at {self.url} ({reason}); is the server running?"
            ) from error

    def request_json(
        self, method: str, path: str, payload: Any = None, accept_status: tuple[int, ...] = (200,)
    ) -> tuple[int, Any]:
        body = json.dumps(payload).encode() if payload is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else {}
        status, raw = self._request(method, path, body, headers, accept_status)
        try:
            return status, json.loads(raw or b"null")
        except ValueError as error:
            raise RemoteUnavailableError(f"ComfyUI at {self.url} sent non-JSON for {path}: {raw[:200]!r}") from error

    # -- node definitions -----------------------------------------------------

    def object_info(self) -> dict:
        if self._object_info is None:
            self._object_info = self.request_json("GET", "/object_info")[1]
        return self._object_info

    def definitions(self) -> Definitions:
        return object_info_definitions(self.object_info())

    def node_classes(self) -> dict[str, type]:
        """Stand-ins (INPUT_TYPES, RETURN_TYPES, OUTPUT_NODE) for the server's node classes: bindings, conversion."""
        classes = {}
        for class_type, info in self.object_info().items():
            input_types = info.get("input", {})
            classes[class_type] = type(
                class_type,
                (),
                {
                    "INPUT_TYPES": classmethod(lambda cls, input_types=input_types: input_types),
                    "RETURN_TYPES": tuple(info.get("output", ())),
                    "RETURN_NAMES": tuple(info.get("output_name") or info.get("output", ())),
                    "OUTPUT_NODE": bool(info.get("output_node")),
                },
            )
        return classes

    # -- a run ----------------------------------------------------------------

    def execute(
        self,
        prompt: Mapping[str, dict],
        *,
        bindings: Mapping[str, Any] | None = None,
        output_dir: str | Path | None = None,
        on_progress: ProgressCallback | None = None,
        cancel_event: threading.Event | None = None,
    ) -> RunResult:
        started = time.perf_counter()
        classes = self.node_classes()
        bound, injected = apply_bindings(prompt, bindings, classes)
        self._upload_injected(bound, injected)
        client_id = uuid.uuid4().hex
        socket = self._connect_ws(client_id)
        try:
            prompt_id = self._submit(bound, client_id)
            outputs = [
                node_id
                for node_id, node in bound.items()
                if getattr(classes.get(node["class_type"]), "OUTPUT_NODE", False)
            ]
            total = len(execution_order(bound, outputs)) if outputs else len(bound)
            class_types = {node_id: node["class_type"] for node_id, node in bound.items()}
            _Follower(
                self, socket, prompt_id, class_types, total, on_progress or (lambda event: None), cancel_event
            ).follow()
        finally:
            socket.close()
        history = self._history(prompt_id)
        history_outputs = history.get("outputs") or {}
        in_workflow_order = [node_id for node_id in bound if node_id in history_outputs]
        results = {
            node_id: self._output_entry(bound[node_id], history_outputs[node_id], output_dir)
            for node_id in in_workflow_order
        }
        return RunResult(outputs=results, seconds=time.perf_counter() - started)

    def _history(self, prompt_id: str) -> dict:
        """The prompt's /history entry; ComfyUI stores it just after announcing success, so wait for it briefly."""
        deadline = time.monotonic() + self.timeout
        while True:
            entry = self.request_json("GET", f"/history/{urllib.parse.quote(prompt_id)}")[1].get(prompt_id)
            if entry is not None or time.monotonic() > deadline:
                return entry or {}
            time.sleep(0.05)

    def _upload_injected(self, prompt: dict[str, dict], injected: Mapping[str, bytes]) -> None:
        """Upload each bound image and point its LoadImage at the uploaded name."""
        uploaded: dict[str, str] = {}
        for node in prompt.values():
            for name, value in node["inputs"].items():
                if isinstance(value, str) and value in injected:
                    if value not in uploaded:
                        suffix = Path(value).suffix.lower() or ".png"
                        uploaded[value] = self.upload_image(
                            injected[value], f"playalter-{secrets.token_hex(6)}{suffix}"
                        )
                    node["inputs"][name] = uploaded[value]

    def upload_image(self, data: bytes, filename: str) -> str:
        """POST /upload/image; returns the name LoadImage must use ("subfolder/name" when in a subfolder)."""
        boundary = uuid.uuid4().hex
        parts = [
            _form_field(boundary, "type", "input"),
            _form_field(boundary, "overwrite", "true"),
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + b"\r\n",
            f"--{boundary}--\r\n".encode(),
        ]
        status, raw = self._request(
            "POST", "/upload/image", b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
        answer = json.loads(raw)
        return f"{answer['subfolder']}/{answer['name']}" if answer.get("subfolder") else answer["name"]

    def _connect_ws(self, client_id: str):
        import websocket

        ws_url = self.url.replace("http", "ws", 1) + f"/ws?clientId={client_id}"
        try:
            socket = websocket.create_connection(ws_url, timeout=self.timeout)
        except (OSError, websocket.WebSocketException) as error:
            raise RemoteUnavailableError(f"cannot open the ComfyUI websocket {ws_url} ({error})") from error
        socket.settimeout(0.5)
        return socket

    def _submit(self, prompt: dict[str, dict], client_id: str) -> str:
        status, answer = self.request_json(
            "POST", "/prompt", {"prompt": prompt, "client_id": client_id}, accept_status=(200, 400)
        )
        if status == 400 or not isinstance(answer, dict) or "prompt_id" not in answer:
            raise remote_validation_error(answer)
        return str(answer["prompt_id"])

    def interrupt(self, prompt_id: str) -> None:
        self._request(
            "POST", "/interrupt", json.dumps({"prompt_id": prompt_id}).encode(), {"Content-Type": "application/json"}
        )

    def view(self, entry: Mapping[str, Any]) -> bytes:
        query = urllib.parse.urlencode(
            {
                "filename": entry["filename"],
                "subfolder": entry.get("subfolder", ""),
                "type": entry.get("type", "output"),
            }
        )
        return self._request("GET", f"/view?{query}")[1]

    def _output_entry(self, node: Mapping[str, Any], ui: Mapping[str, list], output_dir: str | Path | None) -> dict:
        def fetch(entries: list[dict]) -> list[FileRef]:
            refs = []
            for entry in entries:
                data = self.view(entry)
                subfolder, kind = entry.get("subfolder", ""), entry.get("type", "output")
                if output_dir is None:
                    refs.append(FileRef(entry["filename"], subfolder, kind, None, data))
                    continue
                path = resolve_inside(
                    Path(output_dir), f"{subfolder}/{entry['filename']}" if subfolder else entry["filename"]
                )
                path.parent.mkdir(parents=True, exist_ok=True)
                path = write_new(path, data)  # never over an earlier download: the server's counter may restart
                refs.append(FileRef(entry["filename"], subfolder, kind, path))
            return refs

        return {
            "class_type": node.get("class_type"),
            "title": (node.get("_meta") or {}).get("title"),
            "images": fetch(ui.get("images") or []),
            "json": list(ui.get("json") or []),
            "text": [str(text) for text in ui.get("text") or []],
            "files": fetch(ui.get("files") or []),
        }


def _form_field(boundary: str, name: str, value: str) -> bytes:
    return f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()


def remote_validation_error(answer: Any) -> WorkflowValidationError:
    """A ComfyUI /prompt rejection (any known shape) -> WorkflowValidationError like a local one.

    Shapes: {"error": {"type", "message", "details", "extra_info"}, "node_errors": {...}} (current);
    {"error": "message", "node_errors": []} (old); {"message": ...} or non-dict bodies (proxies, variants).
    """
    answer = answer if isinstance(answer, dict) else {"error": str(answer)}
    error = answer.get("error", answer.get("message", "ComfyUI rejected the workflow"))
    if not isinstance(error, dict):
        error = {"type": "invalid_prompt", "message": str(error), "details": "", "extra_info": {}}
    error = {
        "type": error.get("type", "invalid_prompt"),
        "message": error.get("message", ""),
        "details": error.get("details", ""),
        "extra_info": error.get("extra_info") or {},
    }
    node_errors = answer.get("node_errors")
    node_errors = node_errors if isinstance(node_errors, dict) else {}
    normalised = {
        str(node_id): {
            "errors": entry.get("errors", []),
            "dependent_outputs": entry.get("dependent_outputs", []),
            "class_type": entry.get("class_type", ""),
        }
        for node_id, entry in node_errors.items()
        if isinstance(entry, dict)
    }
    return WorkflowValidationError(error, normalised)


class _Follower:
    """Reads /ws messages of one prompt and turns them into ProgressEvents, errors or the end of the run."""

    def __init__(
        self,
        runner: RemoteRunner,
        socket,
        prompt_id: str,
        class_types: Mapping[str, str],
        total: int,
        emit: ProgressCallback,
        cancel_event: threading.Event | None,
    ):
        self.runner = runner
        self.socket = socket
        self.prompt_id = prompt_id
        self.total = total
        self.emit = emit
        self.cancel_event = cancel_event
        self.done = 0
        self.current: tuple[str, str] | None = None  # (node id, class type) running now
        self.interrupt_sent = False
        self.class_types = class_types

    def follow(self) -> None:
        import websocket

        deadline = time.monotonic() + self.runner.run_timeout
        self.emit(ProgressEvent("start", nodes_total=self.total))
        while time.monotonic() < deadline:
            if self.cancel_event is not None and self.cancel_event.is_set() and not self.interrupt_sent:
                self.runner.interrupt(self.prompt_id)
                self.interrupt_sent = True
            try:
                message = self.socket.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except (OSError, websocket.WebSocketException) as error:
                log.info("websocket closed (%s); following the run through /history", error)
                return self._poll_history(deadline)
            if isinstance(message, bytes):  # binary preview frames
                continue
            if self._handle(json.loads(message)):
                return
        raise RemoteUnavailableError(f"the run on {self.runner.url} did not finish within {self.runner.run_timeout} s")

    def _handle(self, message: Mapping[str, Any]) -> bool:
        """Apply one message; True when the run is over."""
        kind, data = message.get("type"), message.get("data") or {}
        if data.get("prompt_id") not in (None, self.prompt_id):
            return False
        if kind == "execution_cached":
            self.done += len(data.get("nodes") or [])
        elif kind == "executing":
            self._finish_current()
            node_id = data.get("node")
            if node_id is None:
                return self._success() if data.get("prompt_id") == self.prompt_id else False
            class_type = data.get("node_type") or self.class_types.get(str(node_id))
            self.current = (str(node_id), class_type)
            self.emit(
                ProgressEvent("node_start", str(node_id), class_type, nodes_done=self.done, nodes_total=self.total)
            )
        elif kind == "progress" and self.current is not None:
            self.emit(
                ProgressEvent(
                    "node_progress",
                    self.current[0],
                    self.current[1],
                    int(data.get("value", 0)),
                    int(data.get("max", 0)),
                    self.done,
                    self.total,
                )
            )
        elif kind == "execution_success":
            self._finish_current()
            return self._success()
        elif kind == "execution_error":
            raise NodeExecutionError(
                str(data.get("node_id")),
                str(data.get("node_type")),
                str(data.get("exception_message", "")).strip(),
                str(data.get("exception_type", "")),
            )
        elif kind == "execution_interrupted":
            raise WorkflowCancelled(str(data["node_id"]) if data.get("node_id") is not None else None)
        return False

    def _finish_current(self) -> None:
        if self.current is not None:
            self.done += 1
            self.emit(ProgressEvent("node_finish", *self.current, nodes_done=self.done, nodes_total=self.total))
            self.current = None

    def _success(self) -> bool:
        self.emit(ProgressEvent("finish", nodes_done=self.total, nodes_total=self.total))
        return True

    def _poll_history(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            entry = self.runner.request_json("GET", f"/history/{urllib.parse.quote(self.prompt_id)}")[1].get(
                self.prompt_id
            )
            status = (entry or {}).get("status") or {}
            if status.get("completed") or status.get("status_str") in ("success", "error"):
                for kind, data in status.get("messages") or []:
                    self._handle({"type": kind, "data": data})
                self._success()
                return
            time.sleep(0.5)
        raise RemoteUnavailableError(f"the run on {self.runner.url} did not finish within {self.runner.run_timeout} s")
