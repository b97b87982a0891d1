"""The tracker on webcam4's 2hand.mp4 (issue 10: no track may jump from a hand to the face): every confirmed track
of every frame against MediaPipe's boxes of that frame, and a contact sheet of the frames where a hand crosses the
face (109-136).

    python experiments/generalisation/tracks_2hand.py [checkpoint=heatmapnet/shipped/heatmapnet.pt] [name=shipped]

Per track id: frames confirmed, frames inside a labelled hand box (grown by a quarter of its size), frames matched
to a detection outside every box while MediaPipe labelled the frame ("off a hand": the face, or a hand MediaPipe
missed: look at the sheet), and frames coasting. Writes experiments/generalisation/tracks_2hand_<name>.{md,jpg}.
"""
from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from heatmapnet.cli import parse_options, run_tool  # noqa: E402
from heatmapnet.data.coco import CocoReader  # noqa: E402
from heatmapnet.outputs.overlay import annotate  # noqa: E402
from heatmapnet.pipeline import HandTracker  # noqa: E402
from heatmapnet.sources.video import Video  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "webcam4"
HERE = Path(__file__).resolve().parent
SHEET_FRAMES = range(109, 137, 3)  # 10 frames, 109-136


def inside_a_box(x: float, y: float, hands) -> bool:
    return any(abs(x - h.x) <= h.w / 2 + h.size / 4 and abs(y - h.y) <= h.h / 2 + h.size / 4 for h in hands)


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"checkpoint": str(REPO / "heatmapnet" / "shipped" / "heatmapnet.pt"),
                                   "name": "shipped"}, "python experiments/generalisation/tracks_2hand.py")
    labels = {s.frame_index: s.hands for s in CocoReader().read(DATA) if s.video == "2hand"}
    tracker = HandTracker(options["checkpoint"], threads=2)
    video = Video(DATA / "videos" / "2hand.mp4")
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    off_frames: dict[int, list[int]] = defaultdict(list)
    sheet, trails = [], defaultdict(list)
    for index in range(len(labels)):
        frame = video.frame(index)
        result = tracker.process(frame, index / video.fps)
        hands = labels[index]
        for track in result.tracks:
            trails[track.id] = (trails[track.id] + [(track.x, track.y)])[-20:]
            entry = counts[track.id]
            entry["frames"] += 1
            if track.missed:
                entry["coasting"] += 1
            elif inside_a_box(track.x, track.y, hands):
                entry["on a hand"] += 1
            elif hands:
                entry["off a hand"] += 1
                off_frames[track.id].append(index)
        if index in SHEET_FRAMES:
            canvas = annotate(frame, result.detections, result.tracks, trails, f"frame {index}")
            for hand in hands:
                cv2.rectangle(canvas, (int(hand.x - hand.w / 2), int(hand.y - hand.h / 2)),
                              (int(hand.x + hand.w / 2), int(hand.y + hand.h / 2)), (255, 255, 255), 1)
            sheet.append(cv2.resize(canvas, (240, 426)))
    rows = ["| track id | frames confirmed | on a labelled hand | off every labelled hand (frames) | coasting |",
            "|---|---|---|---|---|"]
    for track_id, entry in sorted(counts.items()):
        off = off_frames[track_id]
        where = f" ({off[0]}-{off[-1]})" if off else ""
        rows.append(f"| {track_id} | {entry['frames']} | {entry['on a hand']} | {entry['off a hand']}{where} | "
                    f"{entry['coasting']} |")
    text = (f"`python experiments/generalisation/tracks_2hand.py checkpoint={options['checkpoint']}` on "
            f"webcam4/videos/2hand.mp4 ({len(labels)} frames; MediaPipe boxes in white on the sheet)\n\n"
            + "\n".join(rows))
    (HERE / f"tracks_2hand_{options['name']}.md").write_text(text + "\n")
    cv2.imwrite(str(HERE / f"tracks_2hand_{options['name']}.jpg"),  # JPEG: a photo sheet, a tenth of a PNG's size
                np.vstack([np.hstack(sheet[i:i + 5]) for i in range(0, len(sheet) - len(sheet) % 5, 5)]),
                [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(text)


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
