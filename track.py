"""Track hands live or offline: `python track.py source=0` (settings: configs/track.yaml, `--help`).

Per frame: read (on a capture thread) -> preprocess -> model -> decode -> track -> draw -> outputs.
Runs the shipped model under ONNX Runtime by default: no PyTorch is imported unless runtime=torch.
Ends with the frame count, mean FPS and milliseconds per stage. Mistakes in the command line or
the inputs end with one `error: ...` line on stderr and exit status 2.
"""
from __future__ import annotations

import dataclasses
import itertools
import sys
import time
from pathlib import Path

import cv2
import hydra
from omegaconf import DictConfig
from tqdm import tqdm

from heatmapnet.config import exits_cleanly, run_entry_point, typed
from heatmapnet.errors import UserError
from heatmapnet.gestures.stage import gesture_stage
from heatmapnet.keypoints.model_file import open_keypoints
from heatmapnet.keypoints.stage import KeypointStage
from heatmapnet.outputs.base import ReaderGone
from heatmapnet.outputs.overlay import RecentGestures, Trails, annotate, heatmap_overlay
from heatmapnet.outputs.records import result_record
from heatmapnet.outputs.sinks import make_outputs, open_outputs, refuse_overwriting
from heatmapnet.outputs.window import Viewer, use_display
from heatmapnet.pipeline import HandTracker
from heatmapnet.poses.stage import pose_stages
from heatmapnet.sources.capture import CaptureThread, open_source
from heatmapnet.tracking.smoothing import OneEuroConfig

CONFIG = Path(__file__).resolve().parent / "configs" / "track.yaml"
STAGES = ("wait", "preprocess", "model", "decode", "track", "draw", "write")  # and one per pipeline stage


def require(condition: bool, message: str) -> None:
    if not condition:
        raise UserError(message)


class Stopwatch:
    """Seconds spent per stage, summed over frames: `lap(stage)` charges the time since the last lap."""

    def __init__(self):
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self.last = time.perf_counter()

    def lap(self, stage: str) -> float:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self.last
        self.last = now
        return now


def check_settings(cfg: DictConfig) -> None:
    require(cfg.threads is None or (isinstance(cfg.threads, int) and cfg.threads > 0),
            f"threads must be a positive integer or null (all cores), not {cfg.threads!r}")
    require(isinstance(cfg.fps, (int, float)) and cfg.fps > 0, f"fps must be a positive number, not {cfg.fps!r}")
    require(cfg.max_frames is None or (isinstance(cfg.max_frames, int) and cfg.max_frames > 0),
            f"max_frames must be a positive integer or null, not {cfg.max_frames!r}")
    require(isinstance(cfg.trail, int) and cfg.trail >= 0, f"trail must be a whole number of frames, not {cfg.trail!r}")
    require(isinstance(cfg.batch, int) and cfg.batch > 0, f"batch must be a positive integer, not {cfg.batch!r}")
    for switch in ("realtime", "mirror"):
        require(isinstance(cfg[switch], bool), f"{switch} must be true or false, not {cfg[switch]!r}")


def open_stages(cfg: DictConfig) -> list:
    """The steps after tracking that the settings turn on, in order: pose, keypoints, gestures (each off
    when its setting is null)."""
    stages = pose_stages(cfg.pose, cfg.pose_smoothing, cfg.track.fallback_size, cfg.threads)
    if cfg.keypoints is not None:
        smoothing = typed(OneEuroConfig, cfg.keypoint_smoothing, "keypoint_smoothing") \
            if cfg.keypoint_smoothing is not None else None
        stages.append(KeypointStage(open_keypoints(cfg.keypoints, cfg.runtime, cfg.threads), smoothing,
                                    mirrored=bool(cfg.get("mirror", False))))
    stages += [stage for stage in (gesture_stage(cfg.get("gestures")),) if stage is not None]
    return stages


def open_tracker(cfg: DictConfig) -> HandTracker:
    return HandTracker(cfg.checkpoint, runtime=cfg.runtime, precision=cfg.precision, threads=cfg.threads,
                       device=cfg.device, input_size=cfg.input_size,
                       input_orientation=cfg.input_orientation, decode=dict(cfg.decode), track=cfg.track,
                       stages=open_stages(cfg))


def run_inputs(cfg: DictConfig, tracker: HandTracker) -> dict[str, Path]:
    """Every file this run reads, by what it is: no output may overwrite one of them."""
    gestures = cfg.get("gestures")
    templates = gestures if isinstance(gestures, str) else (gestures or {}).get("templates")
    named = {"source": cfg.source, "pose model": cfg.get("pose"), "gesture templates": templates,
             "keypoint model": cfg.get("keypoints")}
    inputs = {what: Path(str(value)) for what, value in named.items()
              if isinstance(value, str) and value not in ("shipped", "null") and not str(value).isdigit()}
    return {**inputs, "checkpoint": tracker.model_path}


def mirrored(frames):
    """Frames flipped left-right (mirror=true), before anything looks at them."""
    for frame in frames:
        yield dataclasses.replace(frame, image=cv2.flip(frame.image, 1))


def batches(capture, size: int, limit: int | None, look_ahead: bool):
    """Lists of up to `size` frames from the capture thread, `limit` frames in all, each with whether it ends
    the input. That is known by reading the next list first where frames come as fast as they are read (files);
    a camera's next frame would have to be waited for, so there only reaching `limit` ends the input."""
    frames = itertools.islice(capture, limit)
    chunk, taken = list(itertools.islice(frames, size)), 0
    while chunk:
        taken += len(chunk)
        following = list(itertools.islice(frames, size)) if look_ahead and taken != limit else []
        yield chunk, taken == limit or (look_ahead and not following)
        chunk = following if look_ahead else list(itertools.islice(frames, size))


def track(cfg: DictConfig) -> dict:
    """Track hands over `cfg.source`; prints and returns the summary (frames, fps, ms per stage)."""
    check_settings(cfg)
    display = use_display(cfg.display)
    outputs = make_outputs(cfg.output)
    tracker = open_tracker(cfg)
    source = open_source(cfg.source, fps=cfg.fps)
    require(cfg.batch == 1 or not (source.live or cfg.realtime),
            "batch=N is for video files and image folders played as fast as possible; a camera and realtime=true "
            "run batch=1")
    refuse_overwriting(outputs, run_inputs(cfg, tracker))
    open_outputs(outputs, source.fps or cfg.fps)
    viewer = Viewer() if display else None
    wants_image = bool(viewer) or any(output.wants_image for output in outputs)
    trails = Trails(cfg.trail)
    recent_gestures = RecentGestures()
    show_heatmap = bool(cfg.heatmap)
    frames, rate, interrupted, action, reader_gone, completed = 0, 0.0, False, None, None, False
    total = min(filter(None, (source.frame_count, cfg.max_frames)), default=None)
    clock = Stopwatch()
    start = previous = clock.last
    try:
        with CaptureThread(source, realtime=cfg.realtime) as capture, \
                tqdm(total=total, unit="frame", disable=None, leave=False) as bar:
            for chunk, last in batches(mirrored(capture) if cfg.mirror else capture, cfg.batch, cfg.max_frames,
                                       look_ahead=not (source.live or cfg.realtime)):
                clock.lap("wait")
                results = tracker.process_batch([frame.image for frame in chunk], [frame.t for frame in chunk], clock)
                if last:  # e.g. a gesture whose stroke the end of the file cut off
                    results[-1].events.extend(tracker.finish())
                now = clock.last
                rate = 0.9 * rate + 0.1 * len(chunk) / (now - previous) if frames else len(chunk) / (now - previous)
                previous = now
                for frame, result in zip(chunk, results):
                    annotated = None
                    if wants_image:
                        background = (heatmap_overlay(frame.image, result.logits, result.transform,
                                                      tracker.runtime.stride) if show_heatmap else frame.image)
                        count = len(result.tracks)
                        annotated = annotate(background, result.detections, result.tracks,
                                             trails.update(result.tracks),
                                             f"{rate:.0f} FPS  {count} hand{'s' * (count != 1)}",
                                             recent_gestures.update(frame.t, result.events), result.extras)
                        action = viewer.show(annotated) if viewer else None
                    clock.lap("draw")
                    record = result_record(frame, result)
                    for output in outputs:
                        output.write(record, annotated)
                    clock.lap("write")
                    frames += 1
                    bar.update()
                    if action == "heatmap":
                        show_heatmap = not show_heatmap
                    if action == "quit":
                        break
                if action == "quit":
                    break
        completed = True
    except KeyboardInterrupt:  # what was tracked is kept: files are completed, then the exit status says 130
        interrupted = completed = True
    except ReaderGone as gone:  # e.g. `python track.py output.jsonl=- | head`: a normal way to stop
        reader_gone, completed = str(gone), True
    finally:
        for output in outputs:
            output.close(completed)  # after a failure the previous files stay, not half-written ones
        if viewer:
            viewer.close()
    elapsed = time.perf_counter() - start
    summary = {"frames": frames, "seconds": elapsed, "fps": frames / elapsed, "dropped": capture.dropped,
               "frames_missing": source.frames_missing, "interrupted": interrupted, "reader_gone": reader_gone, "source": source.description,
               "runtime": tracker.runtime.name, "model": tracker.model_path.name,
               "ms": {"read": 1000 * capture.read_seconds / max(capture.frames_read, 1),
                      **{stage: 1000 * seconds / max(frames, 1) for stage, seconds in clock.seconds.items()}}}
    report(summary)
    return summary


def report(summary: dict) -> None:
    if summary["reader_gone"]:
        print(f"stopped: {summary['reader_gone']}", file=sys.stderr)
    print(f"{'interrupted after' if summary['interrupted'] else 'tracked'} {summary['frames']} frames from "
          f"{summary['source']} in {summary['seconds']:.1f} s: {summary['fps']:.1f} FPS mean "
          f"({summary['runtime']}, {summary['model']}), {summary['dropped']} dropped"
          + (f", {summary['frames_missing']} missing (the source ended early)" if summary["frames_missing"] else ""),
          file=sys.stderr)
    print("ms per frame: " + ", ".join(f"{stage} {ms:.2f}" for stage, ms in summary["ms"].items())
          + "  (read runs on the capture thread, overlapped; wait is the time spent waiting for it)", file=sys.stderr)


def print_help() -> None:
    """The tracking settings with their comments (Hydra's own --help lists config groups instead)."""
    text = CONFIG.read_text()
    settings = text[text.index("checkpoint:"):text.index("\nhydra:")]
    print("python track.py [key=value ...]: find and track hands in a camera, a video, an image folder or an image.\n"
          "Window keys: h toggles the heatmap overlay, q or Esc quits. `--cfg job` prints the composed settings.\n\n"
          "Settings (configs/track.yaml):\n\n" + settings.rstrip() + "\n\n"
          "Examples:\n"
          "  python track.py source=0\n"
          "  python track.py source=clip.mp4 output.video=annotated.mp4 output.jsonl=tracks.jsonl\n"
          "  python track.py source=frames/ fps=25 display=false track.smoother=one_euro\n"
          "  python track.py source=0 runtime=torch checkpoint=runs/DATE/checkpoints/best.pt\n"
          "  python track.py source=0 mirror=true output.osc=127.0.0.1:9000 output.websocket=8765\n"
          "  python track.py source=clip.mp4 realtime=true output.jsonl=- | your_program")


@hydra.main(version_base="1.3", config_path="configs", config_name="track")
@exits_cleanly
def hydra_main(cfg: DictConfig) -> None:
    if track(cfg)["interrupted"]:
        raise KeyboardInterrupt  # exit status 130, as for train.py: the outputs are already complete


if __name__ == "__main__":
    if {"--help", "-h"} & set(sys.argv[1:]):
        print_help()
    else:
        run_entry_point(hydra_main, "track.py")
