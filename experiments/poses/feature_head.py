"""The issue's second pose design: a classifier on the hand detector's own feature map, sampled at each peak,
against the crop classifier that ships (a second network on a 48x48 crop of each tracked hand).

The detector's backbone ends in a 96-channel map at stride 16. For every one-hand gesture photo of hagrid1336
that the shipped detector trained on, the map is sampled (bilinearly) at the labelled hand's centre: one
96-number vector per hand, labelled with the photo's gesture; the detector's detections far from the labelled
hand give `none` vectors. A multinomial logistic regression (standardised features, L2) learns the 13 classes.
It is scored like experiments/poses/heldout.py scores the crop classifier: on the photos the detector held out
(new people), at the detector's own detections (a missed hand is an error), and on its false detections
(share called `none`). Cost per hand: one bilinear sample and a 96 x 13 product, next to nothing; using it in
tracking would need the feature map as a second output of the exported detector.

    python experiments/poses/feature_head.py [split_from=runs/shipped_2eb4c07.pt] [seed=0] [weight_decay=0.001]

Writes experiments/poses/feature_head_wd<weight_decay>.json.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from heatmapnet.cli import parse_options, run_tool  # noqa: E402
from heatmapnet.data.coco import CocoReader  # noqa: E402
from heatmapnet.data.hands import Hand  # noqa: E402
from heatmapnet.evaluate.metrics import MATCH_RADIUS, centre_distances, greedy_match  # noqa: E402
from heatmapnet.evaluate.run import parse_args, training_split  # noqa: E402
from heatmapnet.model.checkpoint import load_model  # noqa: E402
from heatmapnet.poses.classifier import PoseClassifier  # noqa: E402
from heatmapnet.runtime.decode import DecodeConfig, decode  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "hagrid1336"
DETECTOR = REPO / "heatmapnet" / "shipped" / "heatmapnet.pt"
POSE = REPO / "heatmapnet" / "shipped" / "pose.onnx"
HERE = Path(__file__).resolve().parent


class FeatureDetector:
    """The shipped detector in PyTorch, returning its detections and its backbone's feature map per photo."""

    def __init__(self, checkpoint: Path):
        self.model, payload = load_model(checkpoint)
        self.decode_config = DecodeConfig(**payload["decode"])

    @torch.no_grad()
    def __call__(self, frame_bgr: np.ndarray):
        config = self.model.config
        transform = config.transform_for(frame_bgr.shape[1], frame_bgr.shape[0])
        rgb = cv2.cvtColor(transform.apply(frame_bgr), cv2.COLOR_BGR2RGB)
        features = self.model.backbone(torch.from_numpy(config.normalization.apply(rgb))[None])
        logits = self.model.heatmap_head(features)
        size = self.model.size_head(features) if self.model.size_head is not None else None
        found = decode(logits, size, self.model.stride, self.decode_config)[0]  # input pixels
        return transform, features[0].numpy(), found

    def sample(self, features: np.ndarray, xy_input: np.ndarray) -> np.ndarray:
        """Bilinear samples (N x C) of the C x h x w map at input-pixel points (cell k covers [k s, (k+1) s))."""
        stride = self.model.stride
        grid = torch.from_numpy(np.asarray(xy_input, np.float32) / stride - 0.5)  # cell coordinates
        height, width = features.shape[1:]
        normalised = torch.stack([2 * grid[:, 0] / max(width - 1, 1) - 1, 2 * grid[:, 1] / max(height - 1, 1) - 1], 1)
        sampled = torch.nn.functional.grid_sample(torch.from_numpy(features)[None], normalised[None, None],
                                                  align_corners=True, padding_mode="border")
        return sampled[0, :, 0].T.numpy()


def gesture_photos(paths: set[str], classes: list[str]) -> list:
    return [s for s in CocoReader().read(DATA) if s.image_path in paths and len(s.hands) == 1
            and s.meta.get("gesture") in classes]


def vectors(detector: FeatureDetector, photos: list, classes: list[str], none: int, at_detections: bool):
    """Vectors and labels of the photos: at the labelled hand and at the detector's far detections (`none`) for
    training; at every detection for checking (the labelled hand's gesture where it matches that hand, `none`
    elsewhere), plus a row of NaN labelled with the gesture where the detector missed the hand."""
    rows, labels = [], []
    for sample in tqdm(photos, desc="feature map", unit="photo", disable=None, leave=False):
        frame = cv2.imread(sample.image_path)
        transform, features, found = detector(frame)
        hand = sample.hands[0]
        gesture = classes.index(sample.meta["gesture"])
        centre = transform.to_input(np.array([[hand.x, hand.y]], np.float64))
        size = hand.size * min(transform.scale)
        distances = centre_distances(found, [Hand(centre[0, 0], centre[0, 1], size, size)])
        outcome = greedy_match(distances, distances <= MATCH_RADIUS * size, np.ones(1, bool))
        if at_detections:
            if not (outcome == 0).any():
                rows.append(np.full(features.shape[0], np.nan, np.float32))
                labels.append(gesture)
            points = found[:, :2]
            sampled = detector.sample(features, points) if len(points) else np.zeros((0, features.shape[0]))
            rows += list(sampled)
            labels += [gesture if o == 0 else none for o in outcome]
        else:
            rows.append(detector.sample(features, centre)[0])
            labels.append(gesture)
            far = found[distances[:, 0] > 1.5 * size] if len(found) else found
            rows += list(detector.sample(features, far[:, :2])) if len(far) else []
            labels += [none] * len(far)
    return np.array(rows, np.float32), np.array(labels)


def fit(x: np.ndarray, y: np.ndarray, classes: int, seed: int, weight_decay: float = 1e-3, steps: int = 500):
    """Multinomial logistic regression on standardised features; returns a function: vectors -> class."""
    torch.manual_seed(seed)
    mean, std = x.mean(0), x.std(0) + 1e-6
    inputs, targets = torch.from_numpy((x - mean) / std), torch.from_numpy(y).long()
    layer = torch.nn.Linear(x.shape[1], classes)
    optimiser = torch.optim.Adam(layer.parameters(), lr=0.01, weight_decay=weight_decay)
    for _ in range(steps):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(layer(inputs), targets).backward()
        optimiser.step()
    weight, bias = layer.weight.detach().numpy().T, layer.bias.detach().numpy()
    return lambda v: (((v - mean) / std) @ weight + bias).argmax(1)


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"split_from": str(REPO / "runs" / "shipped_2eb4c07.pt"), "seed": 0,
                                   "weight_decay": 0.001},
                            "python experiments/poses/feature_head.py")
    torch.set_num_threads(2)
    info = PoseClassifier(POSE, 1).info
    classes = list(info.classes)
    none = classes.index(info.none_class)
    split = [f"checkpoint={DETECTOR}", f"data={DATA}", f"split_from={options['split_from']}"]
    train_paths = {s.image_path for s in training_split(parse_args([*split, "split=train"]), DATA)}
    held_paths = {s.image_path for s in training_split(parse_args([*split, "split=val"]), DATA)}
    detector = FeatureDetector(DETECTOR)
    x, y = vectors(detector, gesture_photos(train_paths, classes), classes, none, at_detections=False)
    predict = fit(x, y, len(classes), int(options["seed"]), float(options["weight_decay"]))
    training_accuracy = float((predict(x) == y).mean())
    held_x, held_y = vectors(detector, gesture_photos(held_paths, classes), classes, none, at_detections=True)
    named = ~np.isnan(held_x).any(1)
    calls = np.full(len(held_y), -1)
    calls[named] = predict(held_x[named])
    hands = held_y != none
    false = ~hands
    started = time.perf_counter()
    for _ in range(1000):
        predict(held_x[named][:1])
    result = {
        "training_vectors": int(len(y)), "training_none": int((y == none).sum()),
        "training_accuracy": training_accuracy,
        "held_out_hands": int(hands.sum()), "missed": int((hands & ~named).sum()),
        "accuracy": float((calls[hands] == held_y[hands]).mean()),
        "accuracy_detected": float((calls[hands & named] == held_y[hands & named]).mean()),
        "false_detections": int(false.sum()),
        "false_detections_none": float((calls[false] == none).mean()) if false.any() else None,
        "ms_per_hand_classifier": (time.perf_counter() - started),  # 1000 calls: seconds = ms per call
        "seed": int(options["seed"]), "weight_decay": float(options["weight_decay"]),
    }
    out = HERE / f"feature_head_wd{options['weight_decay']}{'_seed' + str(options['seed']) if options['seed'] else ''}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"feature-map head on {result['held_out_hands']} held-out hagrid1336 hands via the shipped detector: "
          f"accuracy {result['accuracy']:.3f}, {result['accuracy_detected']:.3f} on the detected; "
          f"{result['false_detections_none']} of {result['false_detections']} false detections none; trained on "
          f"{result['training_vectors']} vectors ({result['training_none']} none), training accuracy "
          f"{training_accuracy:.3f}; wrote {out}")


if __name__ == "__main__":
    sys.exit(run_tool(main))
