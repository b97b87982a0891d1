"""`python -m annotator.export FILE.hands.json --to coco|targets OUT_DIR`.

coco: every labelled frame as a JPEG plus one COCO json (box = the marker's circle, centre exact,
not clipped to the frame; `label` "open"/"other", `track_id` = the marker id; where the file names pose
classes, `info.poses` lists them and each box has `pose`, null where not labelled). targets: each
labelled frame with its training targets drawn over it (blobs in red, ignored areas darkened
blue), rendered by `heatmapnet.train.targets.encode` exactly as training would, to check radius and
ignore regions by eye. Both use `training_hands`, so flow-lost hands are `other` as in training.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from heatmapnet.data.hands_json import read_file, training_hands, video_path
from heatmapnet.errors import UserError
from heatmapnet.sources.video import FrameError, Video
from heatmapnet.train.targets import SHAPES, TargetConfig, encode
from heatmapnet.writable import writable_folder


def labelled_frames(label_file: Path, desc: str):
    """The file's labels, its video, and an iterator over (frame index, BGR frame, markers) of its labelled
    frames with a progress bar; a frame that does not decode is reported and skipped."""
    annotations = read_file(label_file)
    video = Video(video_path(label_file, annotations))
    items = sorted(annotations.frames.items())

    def frames():
        for index, markers in tqdm(items, desc=desc, unit="frame", file=sys.stderr):
            try:
                yield index, video.frame(index), markers
            except FrameError as error:
                print(f"warning: {error}; skipped", file=sys.stderr)

    return annotations, video, frames()


def export_coco(label_file: Path, out_dir: Path, quality: int = 95) -> Path:
    annotations, video, frames = labelled_frames(label_file, "coco")
    stem = video.path.stem
    (out_dir / "images" / stem).mkdir(parents=True, exist_ok=True)
    images, boxes = [], []
    for index, image, markers in frames:
        name = f"images/{stem}/{index:06d}.jpg"
        cv2.imwrite(str(out_dir / name), image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        image_id = len(images) + 1
        images.append({"id": image_id, "file_name": name, "width": annotations.width, "height": annotations.height,
                       "video": stem, "frame_index": index})
        for marker, hand in zip(markers, training_hands(markers)):
            boxes.append({"id": len(boxes) + 1, "image_id": image_id, "category_id": 1,
                          "bbox": [hand.x - hand.w / 2, hand.y - hand.h / 2, hand.w, hand.h],
                          "area": hand.w * hand.h, "iscrowd": 0, "label": hand.label, "track_id": marker.id,
                          "source": marker.source, "uncertain": marker.uncertain,
                          **({"pose": marker.pose} if annotations.poses else {})})
    info = {"description": f"hands labelled with the annotator from {video.path.name}",
            **({"poses": list(annotations.poses)} if annotations.poses else {})}
    coco = {"info": info, "images": images, "annotations": boxes, "categories": [{"id": 1, "name": "hand"}]}
    path = out_dir / "annotations.json"
    path.write_text(json.dumps(coco, indent=1))
    return path


def export_targets(label_file: Path, out_dir: Path, config: TargetConfig, stride: int) -> int:
    annotations, video, frames = labelled_frames(label_file, "targets")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for index, image, markers in frames:
        cv2.imwrite(str(out_dir / f"{video.path.stem}_{index:06d}.png"),
                    draw_targets(image, training_hands(markers), stride, config))
        written += 1
    return written


def draw_targets(image: np.ndarray, hands, stride: int, config: TargetConfig) -> np.ndarray:
    """The frame with the encoded heatmap in red and the loss-ignored cells darkened and tinted blue."""
    height, width = image.shape[:2]
    targets = encode(hands, width, height, stride, config)
    upsample = np.ones((stride, stride), np.float32)
    heat = np.kron(targets["heatmap"][0], upsample)[:height, :width, None]
    ignored = np.kron(1.0 - targets["mask"][0], upsample)[:height, :width, None]
    picture = image.astype(np.float32)
    picture = picture * (1 - 0.6 * ignored) + ignored * np.float32([120, 0, 0]) * 0.6
    picture = picture * (1 - 0.7 * heat) + heat * np.float32([0, 0, 255]) * 0.7
    return np.clip(picture, 0, 255).astype(np.uint8)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m annotator.export", description=__doc__.splitlines()[0])
    parser.add_argument("labels", type=Path, help="a .hands.json file")
    parser.add_argument("--to", required=True, choices=("coco", "targets"))
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--stride", type=int, default=8, help="targets: model output stride in pixels")
    parser.add_argument("--radius-scale", type=float, default=TargetConfig.radius_scale, help="targets: blob radius in hand sizes")
    parser.add_argument("--shape", choices=SHAPES, default=TargetConfig.shape, help="targets: blob shape")
    args = parser.parse_args(argv)
    try:
        if not args.labels.is_file():
            raise UserError(f"{args.labels} does not exist: pass the .hands.json the annotator wrote")
        writable_folder(args.out_dir, f"the {args.to} export")
        if args.to == "coco":
            print(f"wrote {export_coco(args.labels, args.out_dir)}")
        else:
            config = TargetConfig(radius_scale=args.radius_scale, shape=args.shape)
            written = export_targets(args.labels, args.out_dir, config, args.stride)
            print(f"wrote {written} target images to {args.out_dir}")
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
