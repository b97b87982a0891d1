"""Training crops from annotator files whose hands carry pose labels (`python -m annotator --poses ...`).

For footage with several poses, where one clip per pose does not fit. Every marker with a `pose` gives a
crop of its circle (box side = diameter) with that pose as the class; markers without one, and markers
the flow lost (`uncertain`: nobody vouches for the position), give none. Each file is split by time like
the clips: its last `val_fraction` of pose-labelled frames is validation.
"""
from __future__ import annotations

import sys
from collections import Counter

from tqdm import tqdm

from heatmapnet.data.hands_json import existing_video, label_files, read_file
from heatmapnet.errors import UserError
from heatmapnet.poses.data import CropSample, context_sample
from heatmapnet.sources.video import FrameError, Video


def labelled_samples(root, size: int, val_fraction: float = 0.2) -> list[CropSample]:
    """Crops of every pose-labelled marker in a `.hands.json` file, or in each one in a folder."""
    samples: list[CropSample] = []
    for path in label_files(root):
        annotations = read_file(path)
        frames = [(index, [m for m in markers if m.pose is not None and not m.uncertain])
                  for index, markers in sorted(annotations.frames.items())]
        frames = [(index, markers) for index, markers in frames if markers]
        if not frames:
            print(f"note: {path} has no hand with a pose label; skipped", file=sys.stderr)
            continue
        video = Video(existing_video(path, annotations))
        cut_at = round((1 - val_fraction) * len(frames))
        try:
            for order, (index, markers) in enumerate(tqdm(frames, desc=f"cropping {path.name}", disable=None,
                                                          leave=False)):
                try:
                    image = video.frame(index)
                except FrameError as error:
                    print(f"warning: {error}; skipped", file=sys.stderr)
                    continue
                split = "val" if order >= cut_at else "train"
                samples += [context_sample(image, m.x, m.y, 2 * m.r, 2 * m.r, m.pose, f"{path}:{split}", size, split)
                            for m in markers]
        finally:
            video.close()
    if not samples:
        raise UserError(f"pose.annotations: no hand in {root} has a pose label: start the annotator with "
                        f"--poses A,B,none and press `l` on each hand")
    print(f"annotations: {len(samples)} crops from {root} ("
          + ", ".join(f"{c} {n}" for c, n in sorted(Counter(s.label for s in samples).items())) + ")")
    return samples
