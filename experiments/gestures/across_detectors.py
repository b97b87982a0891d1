"""The gesture variants of run.py on the tracks of several detectors at once, ranked by their mean accuracy.

run.py tunes the recogniser on one detector's tracks of 70 clips, so its choice can fit that detector's quirks
(the int8 and fp32 copies of one model already differ by two clips). A setting meant to outlive the next
detector should do well on the tracks of all of them. Each checkpoint needs its cached tracks first
(`cache_tracks.py --checkpoint PATH`). Writes across_detectors.md here.

    python experiments/gestures/across_detectors.py CHECKPOINT [CHECKPOINT ...]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from experiments.gestures.cache_tracks import cache_folder  # noqa: E402
from experiments.gestures.run import HERE, load_clips, score_variant, variants  # noqa: E402


def scores(folder: Path, data: Path) -> dict[str, dict]:
    """Per variant: accuracy, share of `unclassified` clips with an event, webcam10 events per minute."""
    clips = load_clips(folder, data)
    found = {}
    for name, (config, with_none, _) in variants().items():
        row = score_variant(name, config, with_none, clips, folder)
        triggers = row["false_triggers"]
        found[name] = {"accuracy": row["accuracy"], "unclassified": row["unclassified_with_event"],
                       "webcam10": triggers["webcam10"]["per_minute"], "webcam4": triggers["webcam4"]["per_minute"]}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--data", type=Path, default=HERE.parents[1].parent / "shared" / "data")
    args = parser.parse_args()
    folders = [cache_folder(checkpoint) for checkpoint in args.checkpoints]
    missing = [str(folder) for folder in folders if not (folder / "egogestar_dev").is_dir()]
    if missing:
        sys.exit(f"error: no cached tracks in {', '.join(missing)}: run experiments/gestures/cache_tracks.py "
                 "--checkpoint PATH for each first")
    per_detector = []
    for checkpoint, folder in zip(args.checkpoints, folders):
        print(f"replaying {folder.name} ({checkpoint})", flush=True)
        per_detector.append(scores(folder, args.data))
    names = sorted(per_detector[0], key=lambda name: -np.mean([found[name]["accuracy"] for found in per_detector]))
    header = " | ".join(f"`{folder.name}`" for folder in folders)
    rows = [f"`python experiments/gestures/across_detectors.py {' '.join(args.checkpoints)}`: accuracy (10 classes, "
            "leave-one-serial-out) on each detector's tracks; `unclassified` clips with an event and webcam10 events "
            "per minute as the worst of the detectors", "",
            f"| variant | mean | {header} | `unclassified` with an event (max) | webcam10 events/min (max) |",
            "|---|---|" + "---|" * len(folders) + "---|---|"]
    for name in names:
        accuracies = [found[name]["accuracy"] for found in per_detector]
        rows.append(f"| `{name}` | {np.mean(accuracies):.3f} | "
                    + " | ".join(f"{a:.3f}" for a in accuracies)
                    + f" | {max(found[name]['unclassified'] for found in per_detector):.2f} | "
                    f"{max(found[name]['webcam10'] for found in per_detector):.2f} |")
    text = "\n".join(rows) + "\n"
    (HERE / "across_detectors.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
