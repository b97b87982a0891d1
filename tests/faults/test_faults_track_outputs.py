"""Faults at `track.py`'s outputs: an output that is an input, a run failing at start over an existing
file, two runs on one file, Ctrl-C, a truncated source in the summary. Inputs stay byte-identical and no
partial file replaces a good one."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO
from fault_checks import fingerprints, one_error, run_entry
from helpers_video import write_blob_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_blob_video(tmp_path_factory.mktemp("clip") / "clip.mp4", count=30)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """8 s at 30 FPS: played with realtime=true, a run lasts long enough to meet another."""
    return write_blob_video(tmp_path_factory.mktemp("long") / "long.mp4", count=240)


def test_an_output_that_is_the_source_is_refused_before_anything_is_opened(tmp_path, clip):
    """`output.video=v.mp4` on `source=v.mp4` once overwrote the input (137 -> 14 frames, exit 0)."""
    copy = tmp_path / "clip.mp4"
    copy.write_bytes(clip.read_bytes())
    before = fingerprints(copy)
    result = run_entry("track.py", f"source={copy}", "display=false", f"output.video={tmp_path / '.' / 'clip.mp4'}")
    one_error(result.returncode, result.stderr, "is the source of this run")
    assert fingerprints(copy) == before


def test_an_output_that_is_another_input_is_refused(tmp_path, clip):
    templates = tmp_path / "gestures.json"
    templates.write_bytes((REPO / "heatmapnet" / "shipped" / "gestures.json").read_bytes())
    before = fingerprints(templates)
    result = run_entry("track.py", f"source={clip}", "display=false", f"gestures={templates}",
                       f"output.jsonl={tmp_path / 'sub' / '..' / 'gestures.json'}")
    one_error(result.returncode, result.stderr, "is the gesture templates of this run")
    assert fingerprints(templates) == before


def test_a_run_that_fails_at_start_leaves_an_existing_output_as_it_was(tmp_path):
    """A missing source used to truncate an existing output.jsonl to 0 lines."""
    previous = tmp_path / "tracks.jsonl"
    previous.write_text('{"frame": 0}\n{"frame": 1}\n')
    before = fingerprints(previous)
    result = run_entry("track.py", f"source={tmp_path / 'missing.mp4'}", "display=false", f"output.jsonl={previous}")
    one_error(result.returncode, result.stderr, "source not found")
    assert fingerprints(previous) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tracks.jsonl"]  # no temporary or lock left


def test_a_second_run_on_the_same_output_is_refused_and_the_first_completes(tmp_path, long_clip):
    """Two runs on one output.jsonl interleaved silently (237 records -> 170 lines, one invalid)."""
    out = tmp_path / "tracks.jsonl"
    first = subprocess.Popen([sys.executable, str(REPO / "track.py"), f"source={long_clip}", "display=false",
                              "realtime=true", f"output.jsonl={out}"], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / ".tracks.jsonl.lock"
    deadline = time.monotonic() + 60
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    second = run_entry("track.py", f"source={long_clip}", "display=false", f"output.jsonl={out}")
    one_error(second.returncode, second.stderr, "is being written by another run")
    assert first.wait(timeout=120) == 0
    summary = re.search(r"tracked (\d+) frames .*, (\d+) dropped", first.stderr.read())
    tracked, dropped = int(summary[1]), int(summary[2])  # realtime drops frames when the machine is busy
    assert len(out.read_text().splitlines()) == tracked and tracked + dropped >= 237 and tracked > 0
    assert not lock.exists()


def test_ctrl_c_keeps_what_was_tracked_and_exits_130(tmp_path, long_clip):
    out = tmp_path / "tracks.jsonl"
    # Ctrl-C as in a terminal, also when the tests run in the background (`pytest &`: the shell starts them with
    # SIGINT ignored, the child would inherit that and Python would then not turn SIGINT into KeyboardInterrupt)
    process = subprocess.Popen([sys.executable, str(REPO / "track.py"), f"source={long_clip}", "display=false",
                                "realtime=true", f"output.jsonl={out}"], cwd=tmp_path, stderr=subprocess.PIPE,
                               text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".tracks.part-*.jsonl")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # a few frames in
    process.send_signal(signal.SIGINT)
    stderr = process.communicate(timeout=60)[1]
    assert process.returncode == 130, stderr
    assert "interrupted after" in stderr and "Traceback" not in stderr
    lines = out.read_text().splitlines()
    assert 0 < len(lines) < 240 and not list(tmp_path.glob(".tracks.*"))


def test_a_truncated_source_is_named_in_the_summary(tmp_path):
    whole = write_blob_video(tmp_path / "whole.avi", count=40)
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    result = run_entry("track.py", f"source={cut}", "display=false", f"output.jsonl={tmp_path / 't.jsonl'}")
    assert result.returncode == 0, result.stderr
    assert "missing (the source ended early)" in result.stderr
    assert os.path.getsize(tmp_path / "t.jsonl") > 0
