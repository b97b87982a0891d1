"""`output.osc`: bundles caught by a real UDP socket on 127.0.0.1 and parsed with python-osc, against the
JSONL of the same `track.py` run; Wekinator slots; stage fields and events; no listener; a bad host."""
import json
import socket
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO
from helpers_video import write_blob_video, write_random_checkpoint
from hydra import compose, initialize_config_dir
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage

import track
from heatmapnet.errors import UserError
from heatmapnet.outputs.osc import HAND_FIELDS, OscOutput


def config(*overrides):
    with initialize_config_dir(str(REPO / "configs"), version_base="1.3"):
        return compose("track", overrides=list(overrides))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_random_checkpoint(tmp_path_factory.mktemp("model") / "random.pt", threshold=0.05)


@pytest.fixture
def listener():
    """A UDP socket on a free loopback port; datagrams wait in its (enlarged) buffer until read."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        udp.bind(("127.0.0.1", 0))
        yield udp


def received(udp) -> list[bytes]:
    udp.settimeout(0.5)
    packets = []
    try:
        while True:
            packets.append(udp.recv(65536))
    except socket.timeout:
        return packets


def messages(packet: bytes) -> list[tuple[str, list]]:
    assert OscBundle.dgram_is_bundle(packet)
    return [(content.address, content.params) for content in OscBundle(packet)]


def test_one_bundle_per_frame_with_every_hand_and_the_alive_list_of_the_jsonl_record(tmp_path, checkpoint, listener):
    video = write_blob_video(tmp_path / "clip.mp4", count=20)
    port = listener.getsockname()[1]
    track.track(config(f"checkpoint={checkpoint}", "runtime=torch", "threads=1", f"source={video}", "display=false",
                       "pose=null", "keypoints=null", "gestures=null",  # the core hand messages; stage fields below
                       f"output.osc=127.0.0.1:{port}", f"output.jsonl={tmp_path}/tracks.jsonl"))
    records = [json.loads(line) for line in (tmp_path / "tracks.jsonl").read_text().splitlines()]
    bundles = [messages(packet) for packet in received(listener)]
    assert len(bundles) == len(records) == 20
    assert sum(len(record["tracks"]) for record in records) > 0
    for record, bundle in zip(records, bundles):
        addresses = [address for address, _ in bundle]
        assert addresses == (["/heatmapnet/frame"] + ["/heatmapnet/hand"] * len(record["tracks"])
                             + ["/heatmapnet/alive"])
        frame, t, width, height = bundle[0][1]
        assert (frame, width, height) == (record["frame"], 320, 240) and t == pytest.approx(record["t"], abs=1e-4)
        assert bundle[-1][1] == [hand["id"] for hand in record["tracks"]]
        for hand, (_, values) in zip(record["tracks"], bundle[1:-1]):
            assert values[0] == hand["id"]
            expected = [hand["x"] / 320, hand["y"] / 240, hand["w"] / 320, hand["h"] / 240, hand["score"],
                        hand["vx"] / 320, hand["vy"] / 240]
            np.testing.assert_allclose(values[1:], expected, rtol=1e-5, atol=1e-6)  # OSC floats are 32-bit


RECORD = {"frame": 7, "t": 0.25, "width": 200, "height": 100, "detections": [],
          "tracks": [{"id": 4, "x": 50.0, "y": 20.0, "vx": 10.0, "vy": -5.0, "w": 40.0, "h": None, "score": 0.9,
                      "age": 9, "missed": False, "pose": "open", "pose_score": 0.8, "handedness": "left",
                      "keypoints": [[100.0, 50.0, 0.5], {"x": 20.0, "y": 10.0, "score": 0.25}]}],
          "events": [{"type": "gesture", "name": "swipe_left", "id": 4, "score": 0.7}]}


def test_pixel_units_stage_fields_points_and_events_have_their_own_addresses():
    output = OscOutput("127.0.0.1:9", units="pixels")
    bundle = dict(messages(output.bundle(RECORD)))
    assert bundle["/heatmapnet/hand"] == [4, 50.0, 20.0, 40.0, 0.0, pytest.approx(0.9), 10.0, -5.0]  # h: none
    assert bundle["/heatmapnet/pose"] == [4, "open", pytest.approx(0.8)]
    assert bundle["/heatmapnet/handedness"] == [4, "left"]
    assert bundle["/heatmapnet/keypoints"] == [4, 100.0, 50.0, 0.5, 20.0, 10.0, 0.25]
    assert bundle["/heatmapnet/gesture"] == [4, "swipe_left", pytest.approx(0.7)]
    normalised = dict(messages(OscOutput("127.0.0.1:9").bundle(RECORD)))
    assert normalised["/heatmapnet/keypoints"] == [4, 0.5, 0.5, 0.5, pytest.approx(0.1), pytest.approx(0.1), 0.25]


def hands(*ids):
    return {**RECORD, "tracks": [{**RECORD["tracks"][0], "id": i, "x": 10.0 * i} for i in ids]}


def test_wekinator_sends_a_fixed_length_list_where_each_hand_keeps_its_slot():
    output = OscOutput("127.0.0.1:9", mode="wekinator", units="pixels", hands=2)
    fields = len(HAND_FIELDS)

    def inputs(record):
        message = OscMessage(output.wekinator(record))
        assert message.address == "/wek/inputs" and len(message.params) == 2 * fields
        return [message.params[:fields], message.params[fields:]]

    assert inputs(hands()) == [[0.0] * fields] * 2
    first, second = inputs(hands(3, 5))
    assert (first[0], second[0]) == (30.0, 50.0)
    first, second = inputs(hands(5))  # hand 3 gone: its slot is zeros, hand 5 stays in slot 2
    assert first == [0.0] * fields and second[0] == 50.0
    first, second = inputs(hands(5, 8, 9))  # 8 takes the free slot; 9 waits for one
    assert (first[0], second[0]) == (80.0, 50.0)


def test_no_listener_is_not_an_error(listener):
    port = listener.getsockname()[1]
    listener.close()  # nobody on that port: the kernel answers "port unreachable"
    output = OscOutput(f"127.0.0.1:{port}")
    output.open(30.0)
    for _ in range(5):
        output.write(RECORD)
    output.close()


@pytest.mark.parametrize("setting, words", [("9000", "expected HOST:PORT"), ("localhost:70000", "expected HOST:PORT")])
def test_a_malformed_address_is_refused_before_anything_runs(setting, words):
    with pytest.raises(UserError, match=words):
        OscOutput(setting)


def test_an_unknown_host_is_one_error_line_and_exit_status_2(tmp_path):
    video = write_blob_video(tmp_path / "clip.mp4", count=3)
    result = subprocess.run([sys.executable, "track.py", f"source={video}", "display=false",
                             "output.osc=no-such-host.invalid:9000"], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error: output.osc=no-such-host.invalid:9000: unknown host")
