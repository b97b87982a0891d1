"""What the live outputs cost: tracking FPS and latency with no output, WebSocket with 0, 1 and 20 clients, OSC.

    python benchmarks/bench_outputs.py [--frames 300] [--threads 2] [--repeats 3]

Runs the tracking loop of track.py (capture thread, HandTracker with the shipped ONNX model, frame record,
outputs) on a generated 320x240 video, as fast as it goes, once per setting, the settings alternating over
the repeats. Clients are real: a separate process holds the WebSocket connections (or the OSC socket) and
stamps each message as it arrives, on the same monotonic clock. Printed per setting (best FPS of the
repeats, the least disturbed by other work on a shared machine; latencies pooled over the repeats):

  - FPS, and its ratio to no outputs (issue 13's target: within 5 %);
  - write: milliseconds per frame that the outputs take on the tracking thread (target: < 2 ms);
  - in->sent: from the moment the loop takes a frame (what a camera hands over) to the end of `write`;
  - in->received: to the moment a client has the message (median and p99 over frames and clients).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from helpers_video import write_blob_video  # noqa: E402  (the tests' generator of moving-blob videos)

from heatmapnet.outputs.osc import OscOutput  # noqa: E402
from heatmapnet.outputs.records import result_record  # noqa: E402
from heatmapnet.outputs.websocket import WebSocketOutput  # noqa: E402
from heatmapnet.pipeline import HandTracker  # noqa: E402
from heatmapnet.sources.capture import CaptureThread, open_source  # noqa: E402

SETTINGS = ("no outputs", "websocket, 0 clients", "websocket, 1 client", "websocket, 20 clients", "osc")


def free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def frame_index(text: str) -> int:
    """The record's frame number without parsing all of it (records start with {"frame": N, ...)."""
    return int(text[10:text.index(",")])


# -- the receiving process --------------------------------------------------------------------------------------
async def websocket_clients(port: int, count: int, ready: Path) -> list[tuple[int, float]]:
    from websockets.asyncio.client import connect

    arrivals: list[tuple[int, float]] = []

    async def client(connection):
        async for message in connection:
            arrivals.append((frame_index(message), time.monotonic()))

    connections = [await connect(f"ws://127.0.0.1:{port}/") for _ in range(count)]
    ready.touch()
    await asyncio.gather(*(client(c) for c in connections), return_exceptions=True)
    return arrivals


def osc_receiver(port: int, ready: Path, idle_seconds: float = 3.0) -> list[tuple[int, float]]:
    from pythonosc.osc_bundle import OscBundle

    arrivals = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        udp.bind(("127.0.0.1", port))
        ready.touch()
        udp.settimeout(60)
        while True:
            try:
                packet = udp.recv(65536)
            except socket.timeout:
                return arrivals
            arrivals.append((next(iter(OscBundle(packet))).params[0], time.monotonic()))
            udp.settimeout(idle_seconds)  # the run is over when nothing came for a while


def receive(kind: str, port: int, count: int, ready: Path, out: Path) -> None:
    arrivals = (asyncio.run(websocket_clients(port, count, ready)) if kind == "websocket"
                else osc_receiver(port, ready))
    out.write_text(json.dumps(arrivals))


# -- the tracking process ---------------------------------------------------------------------------------------
def start_receiver(kind: str, port: int, count: int, folder: Path) -> tuple[subprocess.Popen, Path]:
    ready, out = folder / f"ready-{port}", folder / f"arrivals-{port}.json"
    process = subprocess.Popen([sys.executable, __file__, "--receive", kind, str(port), str(count), str(ready),
                                str(out)])
    deadline = time.monotonic() + 60
    while not ready.exists():
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"the {kind} receiver did not start")
        time.sleep(0.01)
    return process, out


def run(setting: str, tracker: HandTracker, video: Path, folder: Path) -> dict:
    """One pass over the video with the setting's outputs; per-frame times on the monotonic clock."""
    outputs, receiver = [], None
    if setting.startswith("websocket"):
        port = free_port()
        outputs.append(WebSocketOutput(port))
        outputs[0].open(30.0)
        clients = int(setting.split(", ")[1].split()[0])
        if clients:
            receiver = start_receiver("websocket", port, clients, folder)
    elif setting == "osc":
        port = free_port(socket.SOCK_DGRAM)
        receiver = start_receiver("osc", port, 1, folder)
        outputs.append(OscOutput(f"127.0.0.1:{port}"))
        outputs[0].open(30.0)
    tracker.reset()
    taken, written, write_seconds = {}, {}, []
    start = time.perf_counter()
    with CaptureThread(open_source(video)) as capture:
        for frame in capture:
            taken[frame.index] = time.monotonic()
            result = tracker.process(frame.image, frame.t)
            record = result_record(frame, result)
            before = time.perf_counter()
            for output in outputs:
                output.write(record)
            write_seconds.append(time.perf_counter() - before)
            written[frame.index] = time.monotonic()
    fps = len(taken) / (time.perf_counter() - start)
    for output in outputs:
        output.close()
    received = []
    if receiver:
        process, out = receiver
        process.wait(timeout=120)
        received = [(1000 * (arrival - taken[index])) for index, arrival in json.loads(out.read_text())]
    return {"fps": fps, "write_ms": [1000 * s for s in write_seconds],
            "sent_ms": [1000 * (written[i] - taken[i]) for i in taken], "received_ms": received}


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="length of the generated clip")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--receive", nargs=5, help=argparse.SUPPRESS)  # the receiving process
    args = parser.parse_args()
    if args.receive:
        kind, port, count, ready, out = args.receive
        receive(kind, int(port), int(count), Path(ready), Path(out))
        return

    # Two peaks kept per frame (threshold 0: a clip without real hands still gives two tracks), as live.
    tracker = HandTracker(threads=args.threads, decode={"threshold": 0.0, "top_k": 2})
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        video = write_blob_video(folder / "clip.mp4", count=args.frames)
        runs = {setting: [] for setting in SETTINGS}
        for repeat in range(args.repeats):
            for setting in SETTINGS:
                runs[setting].append(run(setting, tracker, video, folder))
                print(f"repeat {repeat + 1}/{args.repeats}: {setting}: {runs[setting][-1]['fps']:.1f} FPS",
                      file=sys.stderr)
    baseline = max(r["fps"] for r in runs["no outputs"])
    print(f"\n{args.frames} frames 320x240, shipped model (onnxruntime, {args.threads} threads), "
          f"best of {args.repeats}; ms: median / p99")
    print(f"{'setting':24} {'FPS':>6} {'ratio':>6} {'write':>13} {'in->sent':>15} {'in->received':>15}")
    for setting, results in runs.items():
        fps = max(r["fps"] for r in results)
        pooled = {key: [v for r in results for v in r[key]] for key in ("write_ms", "sent_ms", "received_ms")}
        columns = [f"{statistics.median(values):6.2f} / {percentile(values, 99):6.2f}" if values else "-"
                   for values in pooled.values()]
        print(f"{setting:24} {fps:6.1f} {fps / baseline:6.3f} {columns[0]:>13} {columns[1]:>15} {columns[2]:>15}")


if __name__ == "__main__":
    main()
