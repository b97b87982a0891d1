"""End to end: the real annotator in a real HighGUI window on a virtual X display.

xdotool sends real X mouse and key events to the window, and `xwd` takes screenshots of the
display, which are checked against the decoded video and the saved labels. Skipped where Xvfb,
xdotool or xwd are missing (Debian: apt-get install xvfb xdotool x11-apps).
"""
import json
import math
import os
import select
import shutil
import struct
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from annotator_scenes import two_disc_scene
from conftest import REPO

from annotator.view import OTHER_COLOUR
from heatmapnet.sources.video import Video

TOOLS = ("Xvfb", "xdotool", "xwd")
pytestmark = pytest.mark.skipif(not all(shutil.which(t) for t in TOOLS),
                                reason=f"needs {', '.join(TOOLS)} (apt-get install xvfb xdotool x11-apps)")


@pytest.fixture
def display(tmp_path):
    """A fresh Xvfb server on a display number it picks itself (-displayfd), so parallel runs never clash."""
    read_end, write_end = os.pipe()
    log = open(tmp_path / "xvfb.log", "w")
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "800x600x24", "-nolisten", "tcp",
                               "-noreset"],  # without it, each probe that disconnects resets the server under the app
                              pass_fds=(write_end,), stdout=log, stderr=log)
    os.close(write_end)
    number = b""
    while not number.endswith(b"\n") and select.select([read_end], [], [], 20)[0]:
        chunk = os.read(read_end, 16)  # keep the pipe open: Xvfb dies of SIGPIPE if it is closed under it
        if not chunk:
            break
        number += chunk
    name = f":{number.decode().strip()}"
    try:
        ready = lambda: server.poll() is None and subprocess.run(
            ["xdotool", "getmouselocation"], env={**os.environ, "DISPLAY": name}, capture_output=True).returncode == 0
        if not number.strip() or not wait_for(ready, "Xvfb", timeout=20, fail=False):
            pytest.fail(f"Xvfb did not start: {(tmp_path / 'xvfb.log').read_text()[-2000:]}")
        yield name
    finally:
        server.terminate()
        server.wait(10)
        os.close(read_end)
        log.close()


def screenshot(env) -> np.ndarray:
    """The whole virtual screen as BGR, read from xwd's ZPixmap dump (24-bit TrueColor)."""
    dump = subprocess.run(["xwd", "-root", "-silent"], env=env, capture_output=True, check=True, timeout=20).stdout
    fields = struct.unpack(">25I", dump[:100])
    header_size, width, height, byte_order, bits, line = fields[0], fields[4], fields[5], fields[7], fields[11], fields[12]
    start = header_size + 12 * fields[19]  # skip the colour map
    rows = np.frombuffer(dump, np.uint8, height * line, start).reshape(height, line)
    pixels = rows[:, : width * bits // 8].reshape(height, width, bits // 8)
    return np.ascontiguousarray(pixels[..., :3] if byte_order == 0 else pixels[..., ::-1][..., :3])


def wait_for(check, what: str, timeout: float = 30.0, fail: bool = True):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result is not None and result is not False:
            return result
        time.sleep(0.1)
    if fail:
        pytest.fail(f"timed out waiting for {what}")
    return None


def frame_on_screen(env, frame: np.ndarray):
    """Screen position of `frame`'s top-left pixel when the window shows it exactly, else None."""
    screen = screenshot(env)
    patch = frame[:64, :64]
    scores = cv2.matchTemplate(screen, patch, cv2.TM_SQDIFF)
    score, _, (x, y), _ = cv2.minMaxLoc(scores)
    if score == 0 and np.array_equal(screen[y:y + frame.shape[0], x:x + frame.shape[1]][-40:], frame[-40:]):
        return x, y
    return None


def saved(path):
    """The saved frames; {} while there is no file (or in the instant a save swaps it for the new one)."""
    try:
        return {int(k): v for k, v in json.loads(path.read_text())["frames"].items()}
    except FileNotFoundError:
        return {}


def xdotool(env, *args) -> str:
    return subprocess.run(["xdotool", *args], env=env, check=True, timeout=30, capture_output=True, text=True).stdout


def find_window(env, title: str):
    """The window's id, or None; polled, since a search can fail while Qt creates and drops helper windows."""
    found = subprocess.run(["xdotool", "search", "--name", title], env=env, timeout=30,
                           capture_output=True, text=True).stdout.split()
    return found[0] if found else None


def test_label_a_hand_in_a_real_window(display, tmp_path):
    scene = two_disc_scene()
    clip = scene.write(tmp_path / "clip.mp4", 20)
    labels = tmp_path / "clip.hands.json"
    video = Video(clip)
    env = {**os.environ, "DISPLAY": display}
    app = subprocess.Popen([sys.executable, "-m", "annotator", str(clip)], cwd=REPO, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        window = wait_for(lambda: find_window(env, "annotator: clip.mp4"), "the annotator window")
        xdotool(env, "windowfocus", "--sync", window)
        shown = wait_for(lambda: frame_on_screen(env, video.frame(0)), "frame 0", timeout=5, fail=False)
        if shown is None:  # with no window manager, Qt under load can miss the first expose event: map it again
            xdotool(env, "windowunmap", "--sync", window)
            xdotool(env, "windowmap", "--sync", window)
            xdotool(env, "windowfocus", "--sync", window)
        left, top = shown or wait_for(lambda: frame_on_screen(env, video.frame(0)), "frame 0 in the window")

        x, y = scene.discs[0].centre(0)  # window pixel k covers frame coordinates [k, k+1)
        for _ in range(3):  # clicking again is harmless: a click on an existing hand adds nothing
            xdotool(env, "mousemove", "--sync", str(left + int(x)), str(top + int(y)), "click", "1")
            if wait_for(lambda: saved(labels).get(0), "the new hand saved", timeout=5, fail=False):
                break
        assert len(saved(labels)[0]) == 1
        xdotool(env, "key", "o")
        wait_for(lambda: saved(labels)[0][0]["label"] == "other", "the label toggled")
        xdotool(env, "key", "Return")  # accept and carry to frame 1 with optical flow
        wait_for(lambda: 1 in saved(labels), "frame 1 labelled by flow")

        assert wait_for(lambda: frame_on_screen(env, video.frame(1)), "frame 1 in the window") == (left, top)
        (hand,) = saved(labels)[1]
        screen = screenshot(env)[top:top + video.height, left:left + video.width].astype(int)
        ring = [screen[round(hand["y"] - 0.5 + hand["r"] * math.sin(a)), round(hand["x"] - 0.5 + hand["r"] * math.cos(a))]
                for a in np.linspace(0, 2 * math.pi, 48, endpoint=False)]
        near_other = [np.abs(pixel - OTHER_COLOUR).max() < 60 for pixel in ring]
        assert np.mean(near_other) > 0.6, "the marker is drawn in the 'other' colour on the flow position"
        far = np.ones(screen.shape[:2], bool)
        far[int(hand["y"] - hand["r"] - 25):int(hand["y"] + hand["r"] + 8), int(hand["x"] - hand["r"] - 8):] = False
        assert np.array_equal(screen[far], video.frame(1)[far]), "away from the marker the window shows the frame"

        xdotool(env, "key", "q")
        assert app.wait(30) == 0
    finally:
        if app.poll() is None:
            app.kill()
        output, errors = app.communicate(timeout=30)
        print(f"annotator exit code {app.returncode}, stderr:\n{errors[-3000:]}")  # shown when the test fails
    assert f"labels saved in {labels}" in output
    frames = saved(labels)
    assert frames[0] == [{"id": 1, "x": int(x) + 0.5, "y": int(y) + 0.5, "r": 19.2, "label": "other",
                          "source": "manual", "uncertain": False}]
    (carried,) = frames[1]
    assert carried["source"] == "flow" and carried["label"] == "other"
    assert math.hypot(carried["x"] - (int(x) + 0.5 + 3.0), carried["y"] - (int(y) + 0.5 + 1.5)) < 1.0
