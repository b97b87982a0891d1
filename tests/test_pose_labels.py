"""Pose training from annotator files: hands labelled with a pose (`--poses`, `l`) become training crops."""
import pytest
from hydra import compose, initialize_config_dir

from annotator.store import Store
from heatmapnet.config import REPO
from heatmapnet.data.hands_json import Annotations, Marker
from heatmapnet.errors import UserError
from heatmapnet.poses.labelled import labelled_samples
from heatmapnet.poses.training import train
from helpers_video import write_video
from pose_clips import side_by_side_frames

CLASS_OF = {"open": "palm", "fist": "fist", "relaxed": "none"}  # drawn shape -> the pose class it is labelled
PAIRS = [("open", "fist"), ("fist", "relaxed"), ("relaxed", "open")] * 4  # every pose on both sides, to the end
BLOCK = 10  # frames per pair
RADIUS = 45.0  # marker radius: the drawn hand with its fingers fits in the circle
LOST = 5  # the first frames' left hand is flow-lost (uncertain): no crop


@pytest.fixture(scope="module")
def labels(tmp_path_factory):
    """A video of two hands showing different poses, every frame labelled with both hands' poses, plus a
    hand without a pose label (never a crop) and flow-lost hands at the start."""
    folder = tmp_path_factory.mktemp("labelled")
    write_video(folder / "two.mp4", side_by_side_frames(PAIRS, BLOCK), fps=10.0)
    frames = {}
    for number, (left, right) in enumerate(PAIRS):
        for index in range(number * BLOCK, (number + 1) * BLOCK):
            frames[index] = (Marker(1, 80.0, 120.0, RADIUS, pose=CLASS_OF[left], uncertain=index < LOST),
                             Marker(2, 240.0, 120.0, RADIUS, pose=CLASS_OF[right]),
                             Marker(3, 160.0, 40.0, 20.0))
    path = folder / "two.hands.json"
    Store(path).save(Annotations("two.mp4", 320, 240, 10.0, len(PAIRS) * BLOCK, frames,
                                 poses=("fist", "palm", "none")))
    return path


def test_each_pose_labelled_hand_is_one_crop_of_its_class_split_by_time(labels):
    samples = labelled_samples(labels, size=32, val_fraction=0.25)
    frames = len(PAIRS) * BLOCK
    assert len(samples) == 2 * frames - LOST  # neither the unlabelled hand nor the flow-lost ones
    shown = {kind: 2 * frames // 3 for kind in CLASS_OF}
    shown["open"] -= LOST  # the first pair's left hand is open
    assert {c: sum(s.label == c for s in samples) for c in CLASS_OF.values()} == {CLASS_OF[k]: n for k, n in shown.items()}
    val = [s for s in samples if s.split == "val"]
    assert len(val) == 2 * frames // 4 and all(s.group.endswith(":val") for s in val)  # the last quarter of frames
    assert samples[-len(val):] == val  # ... which come last, in frame order
    assert {c: sum(s.label == c for s in val) for c in CLASS_OF.values()} == {"palm": 20, "fist": 20, "none": 20}


def test_training_from_labelled_footage_learns_the_poses(labels, tmp_path):
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[
            "experiment=pose_clips", f"pose.annotations={labels}", "pose.model.body=tiny", "pose.model.pretrained=null",
            "pose.model.width=16", "pose.crop_size=32", "pose.epochs=15", "pose.batch_size=16", "pose.lr=0.01",
            "pose.val_fraction=0.25", f"out_dir={tmp_path / 'run'}"])
    result = train(cfg)
    assert result["classes"] == ["fist", "none", "palm"] and result["val_crops"] == 60
    recalls = {row["class"]: row["recall"] for row in result["val"]["per_class"]}
    assert result["val"]["accuracy"] >= 0.9 and min(recalls.values()) >= 0.8, result["val"]


def test_a_label_file_without_pose_labels_is_a_clear_error(labels, tmp_path):
    plain = tmp_path / "plain.hands.json"
    Store(plain).save(Annotations(str(labels.with_suffix("").with_suffix(".mp4")), 320, 240, 10.0, 10,
                                  {0: (Marker(1, 80.0, 120.0, RADIUS),)}))
    with pytest.raises(UserError, match="no hand in .* has a pose label: start the annotator with --poses"):
        labelled_samples(plain, size=32)


def test_gesture_photos_give_their_one_hand_labelled_with_the_photos_gesture(tmp_path):
    import json

    import cv2
    import numpy as np

    from heatmapnet.data.coco import CocoReader
    from heatmapnet.poses.classifier import PoseModelInfo
    from heatmapnet.poses.data import photo_gesture_samples

    rng = np.random.default_rng(0)
    images, annotations = [], []
    photos = {"fist_a": ("fist", [[40, 30, 24, 30]]), "fist_two_hands": ("fist", [[10, 10, 20, 20], [80, 50, 20, 20]]),
              "four_a": ("four", [[40, 30, 24, 30]]), "palm_no_gesture": (None, [[40, 30, 24, 30]])}
    for image_id, (name, (gesture, boxes)) in enumerate(photos.items()):
        cv2.imwrite(str(tmp_path / f"{name}.jpg"), rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
        images.append({"id": image_id, "file_name": f"{name}.jpg", "width": 160, "height": 120, "gesture": gesture})
        annotations += [{"image_id": image_id, "bbox": box} for box in boxes]
    (tmp_path / "annotations.json").write_text(json.dumps({"images": images, "annotations": annotations}))
    samples = photo_gesture_samples(CocoReader().read(tmp_path), size=48, classes={"fist", "palm", "none"})
    assert [(s.label, s.group.endswith("fist_a.jpg")) for s in samples] == [("fist", True)]
    x, y, w, h = samples[0].box  # the hand centred in a 96-px cut of 2 hand sides: its box scaled with it
    assert (x, y) == (48, 48) and w / h == pytest.approx(24 / 30)

    class Judge:  # as poses.classifier.PoseClassifier: the fist probability of each crop, left hand first
        classes = ("fist", "none")
        info = PoseModelInfo(classes, "none", 32, 1.1)

        def __init__(self, fist):
            self.fist = fist

        def __call__(self, crops):
            assert crops.shape == (2, 32, 32, 3)
            return np.array([[p, 1 - p] for p in self.fist], np.float32)

    assert len(photo_gesture_samples(CocoReader().read(tmp_path), size=48)) == 2  # no class filter: four_a too
    capped = photo_gesture_samples(CocoReader().read(tmp_path), size=48, judge=Judge([0.2, 0.9]), per_gesture=1)
    assert sorted(s.group.rsplit("/", 1)[-1] for s in capped) == ["fist_a.jpg", "four_a.jpg"]  # the first fist photo
    judged = photo_gesture_samples(CocoReader().read(tmp_path), size=48, classes={"fist", "none"},
                                   judge=Judge([0.2, 0.9]), none_class="none")
    two = [s for s in judged if s.group.endswith("fist_two_hands.jpg")]
    assert [s.label for s in two] == ["none", "fist"]  # the hand at (20, 20) is relaxed, the one at (90, 60) not
    assert two[1].box[2] / two[1].box[3] == pytest.approx(1.0)
    for unsure in ([0.6, 0.7], [0.3, 0.4]):  # both like a fist, or neither: the photo is skipped
        assert not [s for s in photo_gesture_samples(CocoReader().read(tmp_path), size=48, judge=Judge(unsure))
                    if s.group.endswith("fist_two_hands.jpg")]
