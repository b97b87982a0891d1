"""The shipped pose model through a hand detector, on the hagrid1336 photos that detector never trained on.

    python experiments/poses/heldout.py [detector=heatmapnet/shipped/heatmapnet.pt] [pose=heatmapnet/shipped/pose.onnx]
        [split_from=CHECKPOINT]

experiments/poses/run.py checks every hagrid1336 photo, most of which the shipped detector trained on; this
check keeps the detector's validation split only (read from its checkpoint, as `evaluate split=val` does), so
detection misses are those of a new person. A detector fine-tuned from another (the shipped one, on egocentric
hands with replay of the other's data and split) keeps the other's split: `split_from=` names that checkpoint
(`git show 2eb4c07:heatmapnet/shipped/heatmapnet.pt > runs/shipped_2eb4c07.pt` for the shipped detector).
Writes experiments/poses/heldout.md and heldout.png.
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from experiments.poses.run import DATA, HERE, classified_photos, flicker, hagrid1336_check  # noqa: E402
from heatmapnet.cli import parse_options, run_tool  # noqa: E402
from heatmapnet.evaluate.run import parse_args, training_split  # noqa: E402
from heatmapnet.pipeline import HandTracker  # noqa: E402
from heatmapnet.poses.report import confusion_png, markdown_table  # noqa: E402
from heatmapnet.poses.stabilize import StabilizerConfig  # noqa: E402


ENTER_SWEEP = (0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"detector": str(REPO / "heatmapnet" / "shipped" / "heatmapnet.pt"),
                                   "pose": str(REPO / "heatmapnet" / "shipped" / "pose.onnx"), "split_from": ""},
                            "python experiments/poses/heldout.py")
    root = DATA / "hagrid1336"
    split_from = [f"split_from={options['split_from']}"] if options["split_from"] else []
    held_out = training_split(parse_args([f"checkpoint={options['detector']}", f"data={root}", "split=val",
                                          *split_from]), root)
    detector = HandTracker(options["detector"], threads=2).detector
    classified = classified_photos(Path(options["pose"]), detector, {s.image_path for s in held_out})
    check = hagrid1336_check(classified)
    title = (f"shipped pose model on {check['count']} held-out hagrid1336 hands via the shipped detector: accuracy "
             f"{check['accuracy']:.3f}, {check['accuracy_detected']:.3f} on the {check['count'] - check['missed']} "
             f"detected; {check['false_detections_none']:.2f} of {check['false_detections']} false detections and "
             f"{check['relaxed_hands_none']:.2f} of {check['relaxed_hands']} relaxed hands none")
    confusion_png(check.pop("matrix"), check["classes"], HERE / "heldout.png", title)
    command = " ".join(["python experiments/poses/heldout.py", *argv])
    rows = ["| `pose_smoothing.enter` | accuracy | on the detected | false detections named `none` | "
            f"relaxed hands named `none` ({check['relaxed_hands']}) | "
            "a moving hand's label changes / s (webcam4 1hand) |", "|---|---|---|---|---|---|"]
    for enter in ENTER_SWEEP:
        named = hagrid1336_check(classified, enter)
        config = replace(StabilizerConfig(), enter=enter, exit=min(StabilizerConfig().exit, enter))
        moving = flicker(Path(options["pose"]), photos=0, config=config)["webcam4_1hand"]
        rows.append(f"| {enter:g}{' (default)' if enter == StabilizerConfig().enter else ''} | "
                    f"{named['accuracy']:.3f} | {named['accuracy_detected']:.3f} | "
                    f"{named['false_detections_none']:.2f} | {named['relaxed_hands_none']:.2f} | "
                    f"{moving['changes_per_second_stabilised']:.2f} |")
    sweep = ("As track.py names a photo's detections: the best class if its probability reaches "
             "`pose_smoothing.enter`, else `none` (a track averages its last frames first; the last column is "
             "that track-level label on a video):\n\n" + "\n".join(rows))
    (HERE / "heldout.md").write_text(f"`{command}`: {title}\n\n{markdown_table(check)}\n\n{sweep}\n")
    print(title)
    print(sweep)


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
