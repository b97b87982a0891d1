"""WebSocket output (`output.websocket=PORT`): every frame's record as JSON to every client, and a browser view.

The server runs on its own thread with its own asyncio loop; `write` only serialises the record once and
hands it over, so tracking never waits for the network. Each client has a one-frame mailbox: a client that
reads slowly (or not at all) gets the newest frame when it is ready for one, and the frames it missed are
counted. Plain HTTP on the same port serves `viewer.html`, a page that draws the hands live (markers, ids,
trails); with `output.websocket_jpeg=FPS` clients that ask for it (`ws://HOST:PORT/?jpeg=1`, as the page
does) also get the annotated frame as a binary JPEG message at that rate.
"""
from __future__ import annotations

import asyncio
import errno
import json
import socket
import sys
import threading
import time
from http import HTTPStatus
from pathlib import Path

import cv2
import numpy as np
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from heatmapnet.errors import UserError
from heatmapnet.outputs.base import Output
from heatmapnet.outputs.osc import parse_address

PAGE = Path(__file__).with_name("viewer.html")
DEFAULT_HOST = "127.0.0.1"
JPEG_QUALITY = 70
# Kernel send buffer per client: small, so a client that stops reading is seen as behind (and gets only the
# newest frame once it reads again) after ~100 KB instead of after the kernel's default of up to 4 MB,
# i.e. minutes of stale records.
SEND_BUFFER = 32 * 1024


class Client:
    """One connection's mailbox: the newest record (and JPEG) not yet sent, and what it missed."""

    def __init__(self, wants_jpeg: bool):
        self.wants_jpeg = wants_jpeg
        self.text: str | None = None
        self.jpeg: bytes | None = None
        self.ready = asyncio.Event()
        self.sending = False  # inside a send: true for long only when this client is not reading
        self.sent = 0
        self.dropped = 0

    def post(self, text: str, jpeg: bytes | None) -> None:
        if self.text is not None:
            self.dropped += 1  # the previous frame was never taken: this client is behind
        self.text = text
        if jpeg is not None and self.wants_jpeg:
            self.jpeg = jpeg
        self.ready.set()


class WebSocketOutput(Output):
    """Serves records to WebSocket clients and the viewer page over HTTP, on one port."""

    def __init__(self, address, jpeg_fps: float = 0.0):
        self.host, self.port = parse_address(address, "output.websocket", default_host=DEFAULT_HOST)
        if not (isinstance(jpeg_fps, (int, float)) and jpeg_fps >= 0):
            raise UserError(f"output.websocket_jpeg must be a frame rate >= 0 (0: no camera image), not {jpeg_fps!r}")
        self.jpeg_interval = 1.0 / jpeg_fps if jpeg_fps else None
        self.wants_image = self.jpeg_interval is not None
        self.page = PAGE.read_bytes()
        self.connections: dict[ServerConnection, Client] = {}
        self.finished: list[Client] = []  # for the summary at close
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.stopped: asyncio.Event | None = None
        self.last_jpeg = -float("inf")

    # -- tracking thread ------------------------------------------------------------------------------------
    def open(self, fps: float) -> None:
        """Start the server thread and wait until it listens (or failed to: one error line)."""
        started = threading.Event()
        failure: list[BaseException] = []
        self.thread = threading.Thread(target=self.serve_forever, args=(started, failure), name="websocket",
                                       daemon=True)
        self.thread.start()
        started.wait()
        if failure:
            self.thread.join()
            raise UserError(self.describe(failure[0])) from None
        print(f"output.websocket: viewer at http://{self.host}:{self.port}/ , records at ws://{self.host}:{self.port}/",
              file=sys.stderr)

    def describe(self, error: BaseException) -> str:
        where = f"output.websocket={self.host}:{self.port}"
        if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
            return (f"{where}: port {self.port} is already in use (another tracker or server?); pick another, "
                    f"e.g. output.websocket={self.port + 1}")
        reason = getattr(error, "strerror", None) or str(error)
        return (f"{where}: cannot listen on {self.host} ({reason}); use an address of this machine: "
                f"output.websocket=PORT (this machine only) or 0.0.0.0:PORT (every network interface)")

    def write(self, record: dict, image: np.ndarray | None = None) -> None:
        text = json.dumps(record, allow_nan=False)
        now = time.monotonic()
        if image is not None and now - self.last_jpeg >= self.jpeg_interval:
            self.last_jpeg = now
        else:
            image = None
        self.loop.call_soon_threadsafe(self.publish, text, image)

    def close(self, completed: bool = True) -> None:
        if self.thread is None or not self.thread.is_alive():
            return
        self.loop.call_soon_threadsafe(self.stopped.set)
        self.thread.join()
        served = self.finished + list(self.connections.values())
        if served:
            print(f"output.websocket: {len(served)} client(s) served; frames sent/dropped per client: "
                  + ", ".join(f"{c.sent}/{c.dropped}" for c in served), file=sys.stderr)

    # -- server thread --------------------------------------------------------------------------------------
    def serve_forever(self, started: threading.Event, failure: list) -> None:
        self.loop = asyncio.new_event_loop()
        try:
            self.loop.run_until_complete(self.run_server(started, failure))
        finally:
            self.loop.close()

    async def run_server(self, started: threading.Event, failure: list) -> None:
        self.stopped = asyncio.Event()
        try:
            server = await serve(self.handle, self.host, self.port, process_request=self.http, close_timeout=1,
                                 compression=None)  # deflate per client and message costs CPU, saves little here
        except OSError as error:  # port in use, an address of another machine, an unknown host name
            failure.append(error)
            started.set()
            return
        started.set()
        await self.stopped.wait()
        for connection, client in list(self.connections.items()):
            if client.sending:  # stalled: a closing handshake would wait for it in vain
                connection.transport.abort()
        server.close()
        await server.wait_closed()

    def http(self, connection: ServerConnection, request: Request) -> Response | None:
        """Plain HTTP requests get the viewer page; WebSocket upgrades go on to `handle`."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        if request.path.split("?")[0] not in ("/", "/index.html"):
            return connection.respond(HTTPStatus.NOT_FOUND, "not found: the viewer is at /\n")
        headers = Headers([("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(self.page))),
                           ("Cache-Control", "no-store")])
        return Response(HTTPStatus.OK, "OK", headers, self.page)

    async def handle(self, connection: ServerConnection) -> None:
        connection.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        client = Client(wants_jpeg="jpeg=1" in connection.request.path)
        self.connections[connection] = client
        sender = asyncio.create_task(self.send_to(client, connection))
        try:
            async for _ in connection:  # nothing is expected from clients; this ends when they leave
                pass
        except ConnectionClosed:  # broken off rather than closed: still a client leaving, not a tracking error
            pass
        finally:
            sender.cancel()
            del self.connections[connection]
            self.finished.append(client)

    async def send_to(self, client: Client, connection: ServerConnection) -> None:
        try:
            while True:
                await client.ready.wait()
                client.ready.clear()
                text, jpeg, client.text, client.jpeg = client.text, client.jpeg, None, None
                client.sending = True
                if jpeg is not None:
                    await connection.send(jpeg)
                await connection.send(text)  # waits while this client's buffers are full: others go on
                client.sending = False
                client.sent += 1
        except ConnectionClosed:
            pass  # closed while sending: `handle` sees the end of the connection and cleans up

    def publish(self, text: str, image: np.ndarray | None) -> None:
        jpeg = None
        if image is not None and any(client.wants_jpeg for client in self.connections.values()):
            jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1].tobytes()
        for client in self.connections.values():
            client.post(text, jpeg)
