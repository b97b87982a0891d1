"""The live view in a real headless browser (Debian's chromium, driven over the DevTools protocol): it
connects to `track.py`'s `output.websocket`, draws the hands of a generated video, and a screenshot shows
them. Skips cleanly where chromium is not installed."""
import base64
import itertools
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import cv2
import numpy as np
import pytest
from conftest import REPO
from helpers_video import write_blob_video, write_random_checkpoint
from hydra import compose, initialize_config_dir
from websockets.sync.client import connect

import track
from heatmapnet.outputs.overlay import colour_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=800,600",
         "--remote-debugging-port=0")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")


def config(*overrides):
    with initialize_config_dir(str(REPO / "configs"), version_base="1.3"):
        return compose("track", overrides=list(overrides))


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)
    return value


class Browser:
    """Headless chromium with a fresh profile, and one page driven over the DevTools protocol."""

    def __init__(self, profile):
        self.process = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        active = profile / "DevToolsActivePort"
        wait_for(lambda: active.exists() and active.read_text().count("\n") >= 1, 60, "chromium to start")
        port = active.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            page = next(target for target in json.load(answer) if target["type"] == "page")
        self.devtools = connect(page["webSocketDebuggerUrl"], max_size=None)
        self.ids = itertools.count(1)

    def call(self, method: str, **params) -> dict:
        number = next(self.ids)
        self.devtools.send(json.dumps({"id": number, "method": method, "params": params}))
        while (reply := json.loads(self.devtools.recv(timeout=30))).get("id") != number:
            pass  # events
        assert "error" not in reply, reply
        return reply["result"]

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def close(self) -> None:
        self.devtools.close()
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def browser(tmp_path):
    browser = Browser(tmp_path / "profile")
    yield browser
    browser.close()


def served(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
            return True
    except OSError:
        return False


def test_the_live_view_connects_draws_the_hands_and_a_screenshot_shows_them(tmp_path, browser):
    checkpoint = write_random_checkpoint(tmp_path / "random.pt", threshold=0.05)
    video = write_blob_video(tmp_path / "clip.mp4", count=150, fps=30.0)  # 5 s, played in real time
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    seen = {}

    def watch():
        wait_for(lambda: served(port), 120, "the tracker's server")
        browser.call("Page.navigate", url=f"http://127.0.0.1:{port}/")
        seen["state"] = wait_for(lambda: browser.evaluate(
            "window.heatmapnet && heatmapnet.messages >= 5 && heatmapnet.handsDrawn > 0 && "
            "{messages: heatmapnet.messages, record: heatmapnet.record, scale: heatmapnet.scale}"), 60,
            "the page to draw hands")
        seen["png"] = base64.b64decode(browser.call("Page.captureScreenshot", format="png")["data"])

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    track.track(config(f"checkpoint={checkpoint}", "runtime=torch", "threads=1", f"source={video}", "display=false",
                       "realtime=true", f"output.websocket={port}"))
    watcher.join(timeout=60)
    assert "png" in seen, "the page never drew a hand while the video played"
    (tmp_path / "viewer.png").write_bytes(seen["png"])
    print(f"\nscreenshot: {tmp_path / 'viewer.png'}; page state: {seen['state']['messages']} messages")
    # The screenshot shows the frame (320x240) scaled to the window, each hand's colour at its marker.
    screenshot = cv2.imdecode(np.frombuffer(seen["png"], np.uint8), cv2.IMREAD_COLOR)
    canvas = canvas_region(screenshot)
    scale = seen["state"]["scale"]
    assert scale > 1 and abs(canvas.shape[1] - 320 * scale) <= 1 and abs(canvas.shape[0] - 240 * scale) <= 1
    for hand in seen["state"]["record"]["tracks"]:
        x, y = round(hand["x"] * scale), round(hand["y"] * scale)
        patch = canvas[max(y - 8, 0):y + 9, max(x - 8, 0):x + 9].reshape(-1, 3).astype(int)  # a frame may pass
        assert (np.abs(patch - colour_for(hand["id"])).sum(axis=1) < 60).any(), f"no marker for hand {hand['id']}"


def canvas_region(screenshot: np.ndarray) -> np.ndarray:
    """The canvas: the largest block of its background colour (#222) in the screenshot."""
    mask = (np.abs(screenshot.astype(int) - 0x22).sum(axis=2) < 6).astype(np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    x, y, w, h, _ = max(stats[1:], key=lambda s: s[4])
    return screenshot[y:y + h, x:x + w]
