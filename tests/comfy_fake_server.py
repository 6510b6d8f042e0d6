"""A small HTTP + websocket server speaking ComfyUI's protocol, for remote-mode tests.

It serves /object_info, /upload/image, /prompt, /ws, /history/{id}, /view and
/interrupt like ComfyUI's server.py. Accepted prompts run through the local
executor (with the node classes the test gives) on a worker thread, and its
progress is sent to the websocket as ComfyUI's messages. ``reject_with`` makes
/prompt answer 400 with a canned body (to test the response shapes).
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import uuid
from pathlib import Path

from aiohttp import web

from playalter.nodes import compat
from playalter.runner.engine.errors import NodeExecutionError, WorkflowCancelled, WorkflowValidationError
from playalter.runner.engine.executor import execute
from playalter.runner.engine.validation import check_workflow

from ports import free_port


class FakeComfyUI:
    def __init__(self, node_classes: dict[str, type]):
        self.node_classes = node_classes
        self.root = Path(tempfile.mkdtemp(prefix="fake-comfy-"))
        self.input_dir = self.root / "input"
        self.output_dir = self.root / "output"
        self.input_dir.mkdir()
        self.output_dir.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.reject_with: dict | None = None
        self.requests: list[tuple[str, str]] = []
        self.uploads: list[str] = []
        self.history: dict[str, dict] = {}
        self.queues: dict[str, asyncio.Queue] = {}
        self.cancel = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FakeComfyUI:
        started = threading.Event()
        self._started = started
        self.thread.start()
        started.wait(10)
        return self

    def __exit__(self, *exc_info) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application(middlewares=[self._record])
        app.add_routes(
            [
                web.get("/object_info", self.object_info),
                web.post("/upload/image", self.upload_image),
                web.post("/prompt", self.prompt),
                web.get("/ws", self.websocket),
                web.get("/history/{prompt_id}", self.get_history),
                web.get("/view", self.view),
                web.post("/interrupt", self.interrupt),
            ]
        )
        self.runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self._started.set()
        self.loop.run_forever()

    @web.middleware
    async def _record(self, request, handler):
        self.requests.append((request.method, request.path))
        return await handler(request)

    async def object_info(self, request):
        info = {}
        for class_type, node_class in self.node_classes.items():
            info[class_type] = {
                "input": node_class.INPUT_TYPES(),
                "output": list(node_class.RETURN_TYPES),
                "output_name": list(getattr(node_class, "RETURN_NAMES", None) or node_class.RETURN_TYPES),
                "output_node": bool(getattr(node_class, "OUTPUT_NODE", False)),
                "display_name": class_type,
            }
        return web.json_response(info)

    async def upload_image(self, request):
        form = await request.post()
        upload = form["image"]
        (self.input_dir / upload.filename).write_bytes(upload.file.read())
        self.uploads.append(upload.filename)
        return web.json_response({"name": upload.filename, "subfolder": "", "type": form.get("type", "input")})

    async def prompt(self, request):
        body = await request.json()
        if self.reject_with is not None:
            return web.json_response(self.reject_with, status=400)
        compat.set_folders(self.input_dir, self.output_dir)
        try:
            check_workflow(body["prompt"], self.node_classes)
        except WorkflowValidationError as error:
            return web.json_response(error.to_dict(), status=400)
        finally:
            compat.set_folders(None, None)
        prompt_id = str(uuid.uuid4())
        threading.Thread(target=self._run, args=(prompt_id, body["prompt"], body["client_id"]), daemon=True).start()
        return web.json_response({"prompt_id": prompt_id, "number": 0, "node_errors": {}})

    def _send(self, client_id: str, kind: str, data: dict) -> None:
        queue = self.queues.get(client_id)
        if queue is not None:
            self.loop.call_soon_threadsafe(queue.put_nowait, {"type": kind, "data": data})

    def _run(self, prompt_id: str, prompt: dict, client_id: str) -> None:
        messages = []

        def send(kind: str, data: dict) -> None:
            data = {**data, "prompt_id": prompt_id}
            messages.append([kind, data])
            self._send(client_id, kind, data)

        def on_progress(event) -> None:
            if event.kind == "start":
                send("execution_start", {"timestamp": 0})
            elif event.kind == "node_start":
                send("executing", {"node": event.node_id, "display_node": event.node_id})
            elif event.kind == "node_progress":
                send("progress", {"value": event.value, "max": event.max, "node": event.node_id})

        outputs, status = {}, "success"
        try:
            result = execute(
                prompt,
                input_dir=self.input_dir,
                output_dir=self.output_dir,
                on_progress=on_progress,
                cancel_event=self.cancel,
                node_classes=self.node_classes,
            )
            for node_id, entry in result.outputs.items():
                ui = {
                    "images": [
                        {"filename": ref.filename, "subfolder": ref.subfolder, "type": ref.type}
                        for ref in entry["images"]
                    ]
                }
                if entry["json"]:
                    ui["json"] = entry["json"]
                outputs[node_id] = ui
                send("executed", {"node": node_id, "display_node": node_id, "output": ui})
            send("execution_success", {"timestamp": 0})
            send("executing", {"node": None})
        except NodeExecutionError as error:
            status = "error"
            send(
                "execution_error",
                {
                    "node_id": error.node_id,
                    "node_type": error.class_type,
                    "executed": [],
                    "exception_message": error.message,
                    "exception_type": error.exception_type,
                    "traceback": ["..."],
                    "current_inputs": {},
                    "current_outputs": {},
                },
            )
        except WorkflowCancelled as error:
            status = "error"
            send("execution_interrupted", {"node_id": error.node_id, "node_type": "", "executed": []})
        finally:
            self.cancel.clear()
        self.history[prompt_id] = {
            "prompt": [0, prompt_id, prompt, {}, list(outputs)],
            "outputs": outputs,
            "status": {"status_str": status, "completed": status == "success", "messages": messages},
        }

    async def websocket(self, request):
        client_id = request.query["clientId"]
        socket_response = web.WebSocketResponse()
        await socket_response.prepare(request)
        queue = self.queues[client_id] = asyncio.Queue()
        await socket_response.send_json(
            {"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": client_id}}
        )
        await socket_response.send_bytes(b"\x00\x00\x00\x01preview")  # previews arrive as binary frames

        async def forward() -> None:
            while True:
                await socket_response.send_json(await queue.get())

        sender = asyncio.ensure_future(forward())
        async for _ in socket_response:  # until the client closes
            pass
        sender.cancel()
        return socket_response

    async def get_history(self, request):
        prompt_id = request.match_info["prompt_id"]
        return web.json_response({prompt_id: self.history[prompt_id]} if prompt_id in self.history else {})

    async def view(self, request):
        folder = self.output_dir if request.query.get("type", "output") == "output" else compat.folder("temp")
        path = folder / request.query.get("subfolder", "") / request.query["filename"]
        if not path.is_file():
            return web.Response(status=404)
        return web.Response(body=path.read_bytes(), content_type="image/png")

    async def interrupt(self, request):
        self.cancel.set()
        return web.Response(status=200)
