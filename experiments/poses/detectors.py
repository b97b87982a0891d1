"""The shipped pose model through several hand detectors: does a new detector cut crops the classifier likes less?

    python experiments/poses/detectors.py detectors=CHECKPOINT[,CHECKPOINT...] [split_from=CHECKPOINT]

heldout.py scores one detector on the 117 hands of new people, where one hand is 0.009 and four hands separate
seeds of one pose recipe. This adds the same count on every one- and two-hand gesture photo of hagrid1336 (about
ten times as many hands): most of those the pose model and the detectors trained on, so the figure says nothing
about new people, but it compares how the detectors' boxes suit the classifier on many more hands. Writes
detectors.md here.
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from experiments.poses.run import DATA, HERE, classified_photos, hagrid1336_check  # noqa: E402
from heatmapnet.cli import REQUIRED, parse_options, run_tool  # noqa: E402
from heatmapnet.evaluate.run import parse_args, training_split  # noqa: E402
from heatmapnet.pipeline import HandTracker  # noqa: E402
from heatmapnet.poses.stabilize import StabilizerConfig  # noqa: E402

POSE = REPO / "heatmapnet" / "shipped" / "pose.onnx"


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"detectors": REQUIRED, "split_from": ""}, "python experiments/poses/detectors.py")
    detectors = options["detectors"].split(",")
    root = DATA / "hagrid1336"
    split_from = [f"split_from={options['split_from']}"] if options["split_from"] else []
    held_out = {s.image_path for s in training_split(parse_args([f"checkpoint={detectors[0]}", f"data={root}",
                                                                  "split=val", *split_from]), root)}
    enter = StabilizerConfig().enter
    rows = [f"`python experiments/poses/detectors.py {' '.join(argv)}`: the shipped pose model on hands cut around "
            f"each detector's detection (a missed hand is an error); accuracy by the best class / as track.py names "
            f"a photo (`enter` {enter}); false detections named `none`", "",
            "| detector | held-out hands | accuracy | as named | false detections `none` | all photos' hands | "
            "accuracy | as named | false detections `none` |", "|---|---|---|---|---|---|---|---|---|"]
    for detector in detectors:
        tracker = HandTracker(detector, threads=2).detector
        cells = []
        for photos in (held_out, None):
            classified = classified_photos(POSE, tracker, photos)
            best, named = hagrid1336_check(classified), hagrid1336_check(classified, enter)
            cells.append(f"{best['count']} | {best['accuracy']:.3f} | {named['accuracy']:.3f} | "
                         f"{named['false_detections_none']:.2f} of {named['false_detections']}")
        rows.append(f"| `{detector}` | {' | '.join(cells)} |")
        print(rows[-1], flush=True)
    (HERE / "detectors.md").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
