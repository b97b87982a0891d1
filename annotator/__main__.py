"""`python -m annotator video.mp4`: label hands in a window, or carry labels forward headlessly.

Labels live in `<video>.hands.json` beside the video (or --out); see heatmapnet/data/hands_json.py.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from tqdm import tqdm

from heatmapnet.errors import UserError
from heatmapnet.sources.video import FrameError, Video

from .propagation import carry
from .session import Session
from .store import VideoInfo, open_annotations

SAVE_EVERY_FRAMES = 10  # --propagate saves (atomically) after this many carried frames ...
SAVE_EVERY_SECONDS = 2.0  # ... or this long, whichever comes first: a kill loses at most that much


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m annotator", description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("--out", type=Path, help="label file (default: <video>.hands.json beside the video)")
    parser.add_argument("--propagate", type=int, metavar="N",
                        help="no window: carry the hands of frame --from N frames forward with optical flow, and save")
    parser.add_argument("--from", dest="start", type=int, metavar="FRAME",
                        help="frame to propagate from (default: the last labelled frame)")
    parser.add_argument("--poses", type=pose_list, metavar="A,B,...",
                        help="pose classes a hand can be labelled with (`l` cycles them); kept in the label file")
    parser.add_argument("--scale", type=float, help="display zoom (default: fit a 1600x980 screen area)")
    return parser.parse_args(argv)


def pose_list(text: str) -> tuple[str, ...]:
    """`fist,palm,none` -> ("fist", "palm", "none"); spaces around names are dropped."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        video = Video(args.video, progress=True)
        store, annotations, notes = open_annotations(VideoInfo.of(video), args.out, args.poses)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        session = Session(video, annotations, store)
        session.message = "; ".join(notes)
        if args.poses is not None and not session.save():  # the classes are kept in the file from now on
            raise UserError(session.message)
        if args.propagate is not None:
            propagate(session, args.propagate, args.start)
        else:
            open_window(session, args.scale)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def propagate(session: Session, count: int, start: int | None) -> None:
    """Headless `--propagate`: the same flow steps as `p` in the window, stopping where it would stop.

    Saves as it goes (see SAVE_EVERY_*), so a killed run keeps the frames it carried up to its last save."""
    annotations = session.annotations
    if count < 1:
        raise UserError(f"--propagate needs a number of frames >= 1, got {count}")
    if start is None:
        if not annotations.frames:
            raise UserError(f"{session.store.path} has no labelled frame to propagate from: "
                            f"label one in the window first, or pass --from FRAME")
        start = max(annotations.frames)
    if not annotations.markers(start):
        raise UserError(f"frame {start} has no hands to propagate: choose a labelled frame with --from")
    frame, stop = start, None
    unsaved, saved_at = 0, time.monotonic()
    with tqdm(total=count, desc=f"propagating from frame {start}", unit="frame", file=sys.stderr) as progress:
        for _ in range(count):
            try:
                step = carry(session.video, annotations, frame, +1, session.flow)
            except FrameError as error:  # keep what was carried so far
                stop = str(error)
                break
            if step.changed:
                frame = step.target
                progress.update()
                session.go_to(frame)
                unsaved += 1
                if unsaved >= SAVE_EVERY_FRAMES or time.monotonic() - saved_at >= SAVE_EVERY_SECONDS:
                    session.save()  # a failure is retried at the next save; the last one reports it
                    unsaved, saved_at = 0, time.monotonic()
            stop = step.stop
            if stop or not step.changed:
                break
    session.go_to(frame)
    if not session.save():
        raise UserError(session.message)
    carried = f"frames {start + 1}-{frame}" if frame > start else "no frame"
    print(f"carried the hands of frame {start} to {carried} in {session.store.path}" + (f"; stopped: {stop}" if stop else ""))


def open_window(session: Session, scale: float | None) -> None:
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UserError("no display to open the annotator window on (DISPLAY is not set): run it in a desktop "
                        "session, or carry labels forward without a window with --propagate N")
    from .view import Window, fit_scale  # HighGUI only when a window is wanted

    title = f"annotator: {session.video.path.name}"
    Window(session, title, scale or fit_scale(session.annotations.width, session.annotations.height)).run()
    print(f"labels saved in {session.store.path}")


if __name__ == "__main__":
    sys.exit(main())
