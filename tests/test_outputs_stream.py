"""`output.jsonl=-` and named pipes whose reader leaves (exit status 0), `realtime=true`, `mirror=true`."""
import json
import os
import subprocess
import sys
import time

import cv2
import pytest
from conftest import REPO
from helpers_video import blob_frames, write_blob_video, write_random_checkpoint
from hydra import compose, initialize_config_dir

import track


def config(*overrides):
    with initialize_config_dir(str(REPO / "configs"), version_base="1.3"):
        return compose("track", overrides=list(overrides))


def tracker_process(*settings) -> subprocess.Popen:
    """track.py with the shipped ONNX model (no PyTorch import: quick to start)."""
    return subprocess.Popen([sys.executable, "track.py", "display=false", "threads=1", *settings], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_stdout_streams_json_lines_and_a_reader_that_closes_the_pipe_ends_the_run_with_status_0(tmp_path):
    video = write_blob_video(tmp_path / "clip.mp4", count=90)
    process = tracker_process(f"source={video}", "realtime=true", "output.jsonl=-")  # 3 s: still running below
    lines = [process.stdout.readline() for _ in range(3)]
    process.stdout.close()  # like `| head -n 3`
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 0, stderr
    assert [json.loads(line)["frame"] for line in lines] == sorted(json.loads(line)["frame"] for line in lines)
    assert "stopped: the reader of stdout closed it" in stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr


def test_a_named_pipe_is_written_as_it_is_and_its_reader_may_leave(tmp_path):
    video = write_blob_video(tmp_path / "clip.mp4", count=90)
    fifo = tmp_path / "hands.fifo"  # any name: no .jsonl needed for a pipe
    os.mkfifo(fifo)
    process = tracker_process(f"source={video}", "realtime=true", f"output.jsonl={fifo}")
    with open(fifo, encoding="utf-8") as reader:
        first = json.loads(reader.readline())
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert set(first) >= {"frame", "t", "tracks"} and stdout == ""
    assert f"stopped: the reader of {fifo} closed it" in stderr


def test_realtime_plays_a_video_at_its_own_rate_and_drops_the_frames_tracking_cannot_keep_up_with(tmp_path):
    slow = write_blob_video(tmp_path / "slow.mp4", count=12, fps=10.0)
    started = time.perf_counter()
    summary = track.track(config(f"source={slow}", "display=false", "threads=1", "realtime=true",
                                 f"output.jsonl={tmp_path}/slow.jsonl"))
    assert time.perf_counter() - started >= 1.0  # 12 frames at 10 FPS last 1.1 s; unpaced, they take ~0.2 s
    fast = write_blob_video(tmp_path / "fast.mp4", count=60, fps=2000.0)  # 30 ms of video: no CPU keeps up
    summary = track.track(config(f"source={fast}", "display=false", "threads=1", "realtime=true",
                                 f"output.jsonl={tmp_path}/fast.jsonl"))
    indices = [json.loads(line)["frame"] for line in (tmp_path / "fast.jsonl").read_text().splitlines()]
    assert summary["dropped"] > 0 and len(indices) == summary["frames"] < 60
    assert indices == sorted(set(indices)) and indices[-1] == 59  # gaps, as from a camera; the last frame shown


def test_realtime_runs_one_frame_at_a_time(tmp_path):
    video = write_blob_video(tmp_path / "clip.mp4", count=3)
    with pytest.raises(Exception, match="realtime=true run batch=1"):
        track.track(config(f"source={video}", "display=false", "realtime=true", "batch=4"))


def test_mirror_tracks_the_flipped_picture(tmp_path):
    """mirror=true on a clip gives exactly what the same clip flipped beforehand gives (lossless frames)."""
    checkpoint = write_random_checkpoint(tmp_path / "random.pt", threshold=0.05)
    for folder, flip in (("plain", False), ("flipped", True)):
        (tmp_path / folder).mkdir()
        for index, frame in enumerate(blob_frames(8)):
            cv2.imwrite(str(tmp_path / folder / f"{index:03d}.png"), cv2.flip(frame, 1) if flip else frame)
    outputs = {}
    for folder, mirror in (("plain", "true"), ("flipped", "false"), ("plain", "false")):
        jsonl = tmp_path / f"{folder}-{mirror}.jsonl"
        track.track(config(f"checkpoint={checkpoint}", "runtime=torch", "threads=1", f"source={tmp_path / folder}",
                           "display=false", f"mirror={mirror}", f"output.jsonl={jsonl}"))
        outputs[folder, mirror] = jsonl.read_text()
    assert outputs["plain", "true"] == outputs["flipped", "false"] != outputs["plain", "false"]
    assert '"tracks": [{' in outputs["plain", "true"]  # there were hands to mirror
