"""`output.websocket`: real clients on 127.0.0.1 against `track.py` on a generated video: every frame as the
JSONL line, 20 clients, clients that leave mid-run, one that never reads, the page over HTTP, a port in use."""
import base64
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from conftest import REPO
from helpers_video import write_blob_video, write_random_checkpoint
from hydra import compose, initialize_config_dir
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

import track
from heatmapnet.errors import UserError
from heatmapnet.outputs.websocket import WebSocketOutput


def config(*overrides):
    with initialize_config_dir(str(REPO / "configs"), version_base="1.3"):
        return compose("track", overrides=list(overrides))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def connect_when_up(url: str, timeout: float = 120.0):
    """A client connection as soon as the tracker's server listens (it starts after the model loads)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return connect(url, open_timeout=10, close_timeout=1)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class Reader(threading.Thread):
    """A client that reads every message until the server closes, or until it has `leave_after` of them."""

    def __init__(self, url: str, leave_after: int | None = None, abort: bool = False):
        super().__init__(daemon=True)
        self.url, self.leave_after, self.abort = url, leave_after, abort
        self.messages: list[str] = []
        self.start()

    def run(self) -> None:
        with connect_when_up(self.url) as client:
            try:
                for message in client:
                    if isinstance(message, bytes):  # a JPEG, asked for with ?jpeg=1
                        continue
                    self.messages.append(message)
                    if self.leave_after and len(self.messages) >= self.leave_after:
                        if self.abort:  # vanish without a closing handshake: TCP reset
                            client.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
                            client.socket.close()
                        return
            except ConnectionClosed:
                pass


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_random_checkpoint(tmp_path_factory.mktemp("model") / "random.pt", threshold=0.05)


def run_track(tmp_path, checkpoint, video, port, *overrides) -> tuple[dict, list[str]]:
    cfg = config(f"checkpoint={checkpoint}", "runtime=torch", "threads=1", f"source={video}", "display=false",
                 f"output.jsonl={tmp_path}/tracks.jsonl", f"output.websocket={port}", *overrides)
    summary = track.track(cfg)
    return summary, (tmp_path / "tracks.jsonl").read_text().splitlines()


def test_clients_get_each_frame_as_its_jsonl_line_twenty_at_once_and_may_leave_mid_run(tmp_path, checkpoint):
    video = write_blob_video(tmp_path / "clip.mp4", count=90, fps=30.0)
    port = free_port()
    url = f"ws://127.0.0.1:{port}/"
    readers = [Reader(url) for _ in range(20)]
    leavers = [Reader(url, leave_after=5), Reader(url, leave_after=5, abort=True)]
    summary, lines = run_track(tmp_path, checkpoint, video, port, "realtime=true")
    for reader in readers + leavers:
        reader.join(timeout=30)
    assert summary["frames"] == len(lines) >= 5  # realtime: a busy machine tracks only some frames
    for reader in readers:
        # Joined some frames in (clients connect while the video plays); from then on: the JSONL lines, in
        # order, newest frame included; a reader that keeps up misses at most a frame now and then.
        assert reader.messages, "a client got nothing"
        start = lines.index(reader.messages[0])
        got = iter(lines[start:])
        assert all(message in got for message in reader.messages), "not the JSONL lines, in order"
        assert reader.messages[-1] == lines[-1]
        assert len(reader.messages) >= 0.8 * len(lines[start:])
    first = readers[0]
    start = lines.index(first.messages[0])
    print(f"\n20 clients: {summary['frames']} frames, {summary['fps']:.1f} FPS, a client got "
          f"{len(first.messages)} of {len(lines) - start} frames after joining")
    for leaver in leavers:
        assert len(leaver.messages) == 5 and not leaver.is_alive()


def test_one_client_gets_exactly_one_message_per_frame_equal_to_the_jsonl_line(tmp_path, checkpoint):
    video = write_blob_video(tmp_path / "clip.mp4", count=60, fps=30.0)
    port = free_port()
    reader = Reader(f"ws://127.0.0.1:{port}/")
    summary, lines = run_track(tmp_path, checkpoint, video, port, "realtime=true")
    reader.join(timeout=30)
    start = lines.index(reader.messages[0])
    assert reader.messages == lines[start:] and start < len(lines) // 2


class Staller:
    """A WebSocket client that asks for JPEGs too, with a tiny receive buffer, and then never reads."""

    def __init__(self, port: int):
        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        deadline = time.monotonic() + 120
        while self.socket.connect_ex(("127.0.0.1", port)) != 0:
            assert time.monotonic() < deadline, "the server never came up"
            time.sleep(0.02)
        key = base64.b64encode(os.urandom(16)).decode()
        self.socket.sendall(f"GET /?jpeg=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                            .encode())


def test_a_client_that_never_reads_neither_slows_tracking_nor_holds_up_the_others(tmp_path, checkpoint, capfd):
    video = write_blob_video(tmp_path / "clip.mp4", count=25)
    fps = {}
    for case in ("reader only", "reader and a stalled client"):
        port = free_port()
        reader = Reader(f"ws://127.0.0.1:{port}/")
        stallers = []
        if case != "reader only":
            threading.Thread(target=lambda: stallers.append(Staller(port)), daemon=True).start()
        summary, lines = run_track(tmp_path, checkpoint, video, port, "output.websocket_jpeg=1000")
        reader.join(timeout=30)
        fps[case] = summary["fps"]
        assert reader.messages[-1] == lines[-1] and summary["frames"] == 25
        closing = next(line for line in capfd.readouterr().err.splitlines()
                       if line.startswith("output.websocket: ") and "served" in line)  # ... per client: 40/0, 3/37
        sent_dropped = [tuple(map(int, pair.split("/"))) for pair in closing.split(": ")[-1].split(", ")]
        if stallers:
            assert max(dropped for _, dropped in sent_dropped) > 10, closing  # the staller's frames: dropped
            stallers[0].socket.close()
    ratio = fps["reader and a stalled client"] / fps["reader only"]
    print(f"\ntracking FPS {fps}: ratio {ratio:.2f}")
    assert ratio > 0.6  # loose: other jobs share this machine; bench_outputs.py measures it properly


def test_the_viewer_page_is_served_over_http_on_the_same_port(tmp_path, checkpoint):
    video = write_blob_video(tmp_path / "clip.mp4", count=45, fps=30.0)
    port = free_port()
    pages = []

    def fetch():
        deadline = time.monotonic() + 120
        while not pages and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
                    pages.append((answer.status, answer.headers["Content-Type"], answer.read().decode()))
            except OSError:
                time.sleep(0.05)

    fetcher = threading.Thread(target=fetch, daemon=True)
    fetcher.start()
    run_track(tmp_path, checkpoint, video, port, "realtime=true")
    fetcher.join(timeout=10)
    status, kind, page = pages[0]
    assert status == 200 and kind.startswith("text/html") and "new WebSocket(" in page


def test_a_port_in_use_is_one_error_line_and_exit_status_2(tmp_path):
    video = write_blob_video(tmp_path / "clip.mp4", count=3)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "track.py", f"source={video}", "display=false",
                                 f"output.websocket={port}"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [f"error: output.websocket=127.0.0.1:{port}: port {port} is already "
                                                  f"in use (another tracker or server?); pick another, e.g. "
                                                  f"output.websocket={port + 1}"]


@pytest.mark.parametrize("setting, words", [("192.0.2.77:8765", "cannot listen on 192.0.2.77"),
                                            ("no-such-host.invalid:8765", "cannot listen on no-such-host.invalid"),
                                            ("localhost:http", "expected PORT or HOST:PORT")])
def test_an_address_this_machine_cannot_listen_on_is_refused_at_open(setting, words):
    with pytest.raises(UserError, match=words):
        WebSocketOutput(setting).open(30.0)
