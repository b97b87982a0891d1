"""Training crops from clips, with no manual labels: one clip per pose, the shipped tracker finds the hand.

`root/<class>.mp4` or `root/<class>/<any>.mp4` (file or folder name = class). In each clip the hand is the
confirmed track seen in most frames; its crops take the clip's class. Every other detection in the frames
where that hand is tracked (more than one hand size from it) becomes the garbage class, and so does every
detection in a "nothing" clip (the garbage class's own name, or one of `nothing_names`). Each clip is split
by time: its last `val_fraction` of frames is validation, so neighbouring frames never straddle the split.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from tqdm import tqdm

from heatmapnet.errors import UserError
from heatmapnet.poses.data import CropSample, context_sample, far_from_hands
from heatmapnet.data.hands import Hand
from heatmapnet.sources.capture import VIDEO_EXTENSIONS, open_source


def clip_files(root) -> list[tuple[str, Path]]:
    """(class, clip) pairs: clips directly in `root` are named by file, clips in sub-folders by folder."""
    root = Path(str(root)).expanduser()
    if not root.is_dir():
        raise UserError(f"pose.clips: no folder {root} (expected {root}/<pose>.mp4 or {root}/<pose>/<clip>.mp4)")
    found = [(path.stem if path.parent == root else path.parent.name, path) for path in sorted(root.rglob("*"))
             if path.suffix.lower() in VIDEO_EXTENSIONS]
    if not found:
        raise UserError(f"pose.clips: no videos in {root} ({', '.join(VIDEO_EXTENSIONS)})")
    return found


def clip_samples(root, none_class: str, size: int, val_fraction: float = 0.2,
                 nothing_names=("nothing",), detector=None) -> list[CropSample]:
    """Crops of each clip's tracked hand, labelled by the clip's name; `detector`: the hand model that tracks
    them (None: the shipped one)."""
    from heatmapnet.pipeline import HandTracker

    tracker = HandTracker(detector, threads=1)
    samples: list[CropSample] = []
    for label, path in clip_files(root):
        tracker.reset()
        source = open_source(path)
        frames = []
        try:
            while (frame := source.read()) is not None:
                result = tracker.process(frame.image, frame.t)
                frames.append((frame.image, result.detections, [t for t in result.tracks if not t.missed]))
        finally:
            source.close()
        garbage_only = label == none_class or label in nothing_names
        counts = Counter(track.id for _, _, tracks in frames for track in tracks)
        if not garbage_only and not counts:
            raise UserError(f"pose.clips: the tracker found no hand in {path}; record the hand larger or in "
                            f"better light, or name the clip {none_class} if it shows none")
        hand_id = counts.most_common(1)[0][0] if counts else None
        cut_at = round((1 - val_fraction) * len(frames))
        for index, (image, detections, tracks) in enumerate(tqdm(frames, desc=f"cropping {path.name}",
                                                                  disable=None, leave=False)):
            split = "val" if index >= cut_at else "train"
            group = f"{path}:{split}"
            hands = [Hand(t.x, t.y, t.w, t.h) for t in tracks if t.id == hand_id and not garbage_only]
            if not hands and not garbage_only:
                continue  # the hand is not (yet) tracked here: its detection must not become garbage
            for hand in hands:
                samples.append(context_sample(image, hand.x, hand.y, hand.w, hand.h, label, group, size, split))
            for x, y, _, w, h in detections:
                if far_from_hands((x, y), hands, 1.0):
                    samples.append(context_sample(image, x, y, w, h, none_class, group, size, split))
    print(f"clips: {len(samples)} crops from {root} ("
          + ", ".join(f"{c} {n}" for c, n in sorted(Counter(s.label for s in samples).items())) + ")")
    return samples
