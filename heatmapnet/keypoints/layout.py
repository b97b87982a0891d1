"""The hand skeleton (MediaPipe's 21 landmarks, wrist first) and what left/right means.

Handedness is anatomical: "right" is the person's right hand as it appears in an unmirrored camera image.
MediaPipe's labels assume a mirrored (selfie) image, so on the unmirrored images of ../shared/data its
"Left" is the person's right hand (see each dataset's README); `anatomical_right` does that swap once.
"""
from __future__ import annotations

NAMES = ("wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
         "index_finger_mcp", "index_finger_pip", "index_finger_dip", "index_finger_tip",
         "middle_finger_mcp", "middle_finger_pip", "middle_finger_dip", "middle_finger_tip",
         "ring_finger_mcp", "ring_finger_pip", "ring_finger_dip", "ring_finger_tip",
         "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip")
COUNT = len(NAMES)
FINGERS = {"wrist": (0,), "thumb": (1, 2, 3, 4), "index": (5, 6, 7, 8), "middle": (9, 10, 11, 12),
           "ring": (13, 14, 15, 16), "pinky": (17, 18, 19, 20)}
SKELETON = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11), (11, 12),
            (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19), (19, 20))
LEFT, RIGHT = "left", "right"


def anatomical_right(mediapipe_label: str, image_mirrored: bool = False) -> bool:
    """Whether MediaPipe's label (made for a mirrored view) names the person's right hand in this image."""
    return (mediapipe_label.lower() == "right") == image_mirrored


def handedness_name(right_probability: float, frames_mirrored: bool = False) -> tuple[str, float]:
    """("left" | "right", confidence) for the person in the scene: a mirrored frame shows a right hand
    as a left one, so the model's answer is swapped back when the frames were mirrored."""
    right = (right_probability >= 0.5) != frames_mirrored
    return (RIGHT if right else LEFT), max(right_probability, 1.0 - right_probability)
