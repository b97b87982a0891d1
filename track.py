"""Track hands live or offline: `python track.py source=0` (settings: configs/track.yaml).

Per frame: read (on a capture thread) -> preprocess -> model -> decode -> track -> draw -> write.
Ends with the frame count, mean FPS and milliseconds per stage. Mistakes in the command line or
the inputs end with one `error: ...` line on stderr and exit status 2.
"""
from __future__ import annotations

import itertools
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

# Before torch loads OpenMP: let its idle threads sleep instead of spin. With the capture thread or
# any other program busy, spinning threads take the cores the network needs; on a loaded 2-core
# machine a forward pass measured 7-15x slower with libgomp's default (benchmarks/bench_track.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import cv2  # noqa: E402
import hydra  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402
from omegaconf.errors import OmegaConfBaseException  # noqa: E402
from tqdm import tqdm  # noqa: E402

from heatmapnet.config import exits_cleanly, first_line, run_entry_point  # noqa: E402
from heatmapnet.errors import UserError  # noqa: E402
from heatmapnet.outputs.files import AnnotatedVideoWriter, JsonlWriter, frame_record  # noqa: E402
from heatmapnet.outputs.overlay import Trails, annotate, heatmap_overlay  # noqa: E402
from heatmapnet.runtime.detector import HandDetector  # noqa: E402
from heatmapnet.runtime.runtimes import open_runtime  # noqa: E402
from heatmapnet.sources.capture import CaptureThread, open_source  # noqa: E402
from heatmapnet.tracking.tracker import HandTracker, TrackerConfig  # noqa: E402

REPO = Path(__file__).resolve().parent
STAGES = ("wait", "preprocess", "model", "decode", "track", "draw", "write")
WINDOW = "HeatmapNet  (h: heatmap, q/Esc: quit)"
KEYS = {ord("q"): "quit", 27: "quit", ord("h"): "heatmap"}


def typed(default, overrides, key: str):
    """`overrides` merged onto a dataclass (class or instance) with type checks; errors name `key`."""
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(default), overrides))
    except OmegaConfBaseException as error:
        full_key = getattr(error, "full_key", None)
        raise UserError(f"{key}{'.' + full_key if full_key else ''}: {first_line(error)}") from None
    except ValueError as error:  # the dataclass's own range checks
        raise UserError(f"{key}: {first_line(error)}") from None


def require(condition: bool, message: str) -> None:
    if not condition:
        raise UserError(message)


def checkpoint_path(value) -> Path:
    """A relative path is looked up in the working directory, then in the repository (where the
    shipped model lives), so the default works from any directory."""
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() or path.exists() else REPO / path


def display_available() -> bool:
    return sys.platform in ("win32", "darwin") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def use_display(setting) -> bool:
    require(setting is None or isinstance(setting, bool), f"display must be true, false or null, not {setting!r}")
    if setting is None:
        return display_available()
    require(not setting or display_available(),
            "display=true but no display is available (DISPLAY is not set): use display=false, or run under xvfb-run")
    return setting


def open_detector(cfg: DictConfig) -> HandDetector:
    """The runtime for the checkpoint, with the command line's input size and decode settings."""
    runtime = open_runtime(cfg.runtime, checkpoint_path(cfg.checkpoint), threads=cfg.threads)
    if cfg.input_size is not None:
        size = list(cfg.input_size)
        require(len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size),
                f"input_size must be [width, height] in pixels, not {size}")
        runtime.model_config = replace(runtime.model_config, input_width=size[0], input_height=size[1])
    overrides = {key: value for key, value in cfg.decode.items() if value is not None}
    return HandDetector(runtime, typed(runtime.decode_config, overrides, "decode"))


class Viewer:
    """The window: shows annotated frames; `h` toggles the heatmap, `q`/Esc or closing it quits."""

    def __init__(self):
        try:
            cv2.namedWindow(WINDOW, cv2.WINDOW_AUTOSIZE)
        except cv2.error as error:
            raise UserError(f"cannot open a window ({first_line(error)}): use display=false") from None

    def show(self, image) -> str | None:
        """Show a frame; returns "quit", "heatmap" or None from the keyboard."""
        cv2.imshow(WINDOW, image)
        key = cv2.waitKey(1) & 0xFF
        if cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
            return "quit"
        return KEYS.get(key)

    def close(self) -> None:
        cv2.destroyWindow(WINDOW)


class Stopwatch:
    """Seconds spent per stage, summed over frames: `lap(stage)` charges the time since the last lap."""

    def __init__(self):
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self.last = time.perf_counter()

    def lap(self, stage: str) -> float:
        now = time.perf_counter()
        self.seconds[stage] += now - self.last
        self.last = now
        return now


def check_settings(cfg: DictConfig) -> None:
    require(isinstance(cfg.threads, int) and cfg.threads > 0,
            f"threads must be a positive integer, not {cfg.threads!r}")
    require(isinstance(cfg.fps, (int, float)) and cfg.fps > 0, f"fps must be a positive number, not {cfg.fps!r}")
    require(cfg.max_frames is None or (isinstance(cfg.max_frames, int) and cfg.max_frames > 0),
            f"max_frames must be a positive integer or null, not {cfg.max_frames!r}")
    require(isinstance(cfg.trail, int) and cfg.trail >= 0, f"trail must be a whole number of frames, not {cfg.trail!r}")


def track(cfg: DictConfig) -> dict:
    """Track hands over `cfg.source`; prints and returns the summary (frames, fps, ms per stage)."""
    check_settings(cfg)
    display = use_display(cfg.display)
    tracker = HandTracker(typed(TrackerConfig, cfg.track, "track"))
    detector = open_detector(cfg)
    video = AnnotatedVideoWriter(cfg.output.video) if cfg.output.video else None
    jsonl = JsonlWriter(cfg.output.jsonl) if cfg.output.jsonl else None
    source = open_source(cfg.source, fps=cfg.fps)
    viewer = Viewer() if display else None
    trails = Trails(cfg.trail)
    show_heatmap = bool(cfg.heatmap)
    frames, rate, interrupted = 0, 0.0, False
    total = min(filter(None, (source.frame_count, cfg.max_frames)), default=None)
    clock = Stopwatch()
    start = previous = clock.last
    try:
        with CaptureThread(source) as capture, tqdm(total=total, unit="frame", disable=None, leave=False) as bar:
            for frame in itertools.islice(capture, cfg.max_frames):
                clock.lap("wait")
                transform = detector.transform_for(frame.image)
                image = detector.prepare(frame.image)
                clock.lap("preprocess")
                logits, size = detector.infer(image)
                clock.lap("model")
                detections = detector.decode(logits, size, transform)
                clock.lap("decode")
                tracks = tracker.update(frame.t, detections)
                now = clock.lap("track")
                rate = 0.9 * rate + 0.1 / (now - previous) if frames else 1 / (now - previous)
                previous, action = now, None
                if viewer or video:
                    background = (heatmap_overlay(frame.image, logits[0, 0], transform, detector.runtime.stride)
                                  if show_heatmap else frame.image)
                    annotated = annotate(background, detections, tracks, trails.update(tracks),
                                         f"{rate:.0f} FPS  {len(tracks)} hand{'s' * (len(tracks) != 1)}")
                    action = viewer.show(annotated) if viewer else None
                clock.lap("draw")
                if jsonl:
                    jsonl.write(frame_record(frame, detections, tracks))
                if video:
                    video.write(annotated, source.fps or cfg.fps)
                clock.lap("write")
                frames += 1
                bar.update()
                if action == "quit":
                    break
                if action == "heatmap":
                    show_heatmap = not show_heatmap
    except KeyboardInterrupt:
        interrupted = True
    finally:
        for sink in (jsonl, video, viewer):
            if sink:
                sink.close()
    elapsed = time.perf_counter() - start
    summary = {"frames": frames, "seconds": elapsed, "fps": frames / elapsed, "dropped": capture.dropped,
               "interrupted": interrupted, "source": source.description,
               "ms": {"read": 1000 * capture.read_seconds / max(capture.frames_read, 1),
                      **{stage: 1000 * seconds / max(frames, 1) for stage, seconds in clock.seconds.items()}}}
    report(summary)
    return summary


def report(summary: dict) -> None:
    print(f"{'interrupted after' if summary['interrupted'] else 'tracked'} {summary['frames']} frames from "
          f"{summary['source']} in {summary['seconds']:.1f} s: {summary['fps']:.1f} FPS mean, "
          f"{summary['dropped']} dropped")
    print("ms per frame: " + ", ".join(f"{stage} {ms:.2f}" for stage, ms in summary["ms"].items())
          + "  (read runs on the capture thread, overlapped; wait is the time spent waiting for it)")


@hydra.main(version_base="1.3", config_path="configs", config_name="track")
@exits_cleanly
def hydra_main(cfg: DictConfig) -> None:
    track(cfg)


if __name__ == "__main__":
    run_entry_point(hydra_main, "track.py")
