"""`data=annotations`: training samples straight from the annotator's .hands.json files."""
import json

import numpy as np
import pytest
from annotator_scenes import two_disc_scene

from annotator.store import Store
from heatmapnet.data.hands_json import VERSION, Annotations, FormatError, Marker
from heatmapnet.data.registry import make_reader
from heatmapnet.errors import UserError
from heatmapnet.sources.video import Video

SCENE = two_disc_scene()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return SCENE.write(tmp_path_factory.mktemp("videos") / "clip.mp4", 12)


def write_labels(path, video_name, frames) -> None:
    Store(path).save(Annotations(video_name, 320, 240, 10.0, 12, frames))


def test_labelled_frames_become_samples_that_point_into_the_video(clip):
    write_labels(clip.with_suffix(".hands.json"), "clip.mp4", {
        7: (Marker(1, 111.0, 90.5, 28.0), Marker(2, 216.0, 160.0, 24.0, "other", "flow")),
        2: (),  # looked at, no hands: a negative frame
        9: (Marker(1, 117.0, 93.5, 28.0, "open", "flow", uncertain=True),),
    })
    samples = make_reader("annotations").read(clip.with_suffix(".hands.json"))
    assert [s.frame_index for s in samples] == [2, 7, 9]
    negative, two, lost = samples
    assert negative.hands == []
    assert [(h.x, h.y, h.w, h.h, h.label) for h in two.hands] == [(111.0, 90.5, 56.0, 56.0, "open"),
                                                                   (216.0, 160.0, 48.0, 48.0, "other")]
    assert lost.hands[0].label == "other"  # flow lost it: ignored by the loss, not learned
    for sample in samples:
        assert sample.image_path == str(clip.resolve()) and sample.video == "clip"
        assert sample.meta == {"video_frame": True} and (sample.width, sample.height) == (320, 240)


def test_the_frame_a_sample_names_is_the_frame_that_was_labelled(clip):
    """Loading convention for `meta["video_frame"]`: decode `image_path` and take frame `frame_index`."""
    write_labels(clip.with_suffix(".hands.json"), "clip.mp4", {6: (Marker(1, *SCENE.discs[0].centre(6), 28.0),)})
    (sample,) = make_reader("annotations").read(clip.with_suffix(".hands.json"))
    image = Video(sample.image_path).frame(sample.frame_index)
    truth = SCENE.frame(sample.frame_index)
    errors = [np.abs(image.astype(int) - SCENE.frame(i)).mean() for i in range(12)]
    assert int(np.argmin(errors)) == 6 and errors[6] < 6 and image.shape == truth.shape


def test_a_folder_reads_every_label_file_in_it(clip, tmp_path):
    second = SCENE.write(tmp_path / "second.mp4", 3)
    write_labels(tmp_path / "second.hands.json", "second.mp4", {0: (Marker(4, 10.0, 10.0, 5.0),)})
    write_labels(tmp_path / "first.hands.json", str(clip.resolve()), {1: (), 3: ()})
    (tmp_path / "notes.json").write_text("{}")
    samples = make_reader("annotations").read(tmp_path)
    assert [(s.video, s.frame_index) for s in samples] == [("clip", 1), ("clip", 3), ("second", 0)]
    assert samples[2].image_path == str(second.resolve())


def test_missing_files_and_videos_and_corrupt_files_are_one_line_errors(clip, tmp_path):
    reader = make_reader("annotations")
    with pytest.raises(UserError, match="no \\*.hands.json files in"):
        reader.read(tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        reader.read(tmp_path / "nothing.hands.json")
    write_labels(tmp_path / "gone.hands.json", "gone.mp4", {0: ()})
    with pytest.raises(UserError, match="gone.mp4, which does not exist"):
        reader.read(tmp_path / "gone.hands.json")
    (tmp_path / "gone.hands.json").write_text(json.dumps({"version": VERSION + 1, "frames": {}}))
    with pytest.raises(FormatError, match="written by a newer annotator"):
        reader.read(tmp_path / "gone.hands.json")
    (tmp_path / "gone.hands.json").write_text(json.dumps({"version": "1", "frames": {}}))
    with pytest.raises(FormatError, match=f"not an annotator file of a version up to {VERSION}"):
        reader.read(tmp_path / "gone.hands.json")
