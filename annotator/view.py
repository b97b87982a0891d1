"""Drawing the session, and the OpenCV window that feeds it events. No annotation logic lives here.

`render` is a pure function of the session and the frame, so it runs offscreen too. The window is a
bare HighGUI window (no toolbar, so window pixels are image pixels) with a frame trackbar; below the
frame sit a timeline strip (one column per stretch of frames, coloured by how they are labelled)
and a two-line status bar. Frames marked "no hands here" are purple on the timeline.
"""
from __future__ import annotations

import cv2
import numpy as np

from heatmapnet.data.hands import OPEN
from heatmapnet.data.hands_json import FLOW, MANUAL

from .session import HELP, Session

OPEN_COLOUR = (60, 220, 60)  # BGR
OTHER_COLOUR = (0, 170, 255)
UNCERTAIN_COLOUR = (40, 40, 255)
SELECTED_COLOUR = (255, 255, 255)
NO_HANDS_COLOUR = (150, 60, 150)
TIMELINE_COLOURS = {None: (70, 70, 70), FLOW: (200, 140, 40), MANUAL: OPEN_COLOUR, "uncertain": UNCERTAIN_COLOUR,
                    "no hands": NO_HANDS_COLOUR}
TIMELINE_HEIGHT = 10
STATUS_HEIGHT = 40
FONT = cv2.FONT_HERSHEY_SIMPLEX
SUBPIXEL = 4  # fractional bits for cv2 drawing at sub-pixel positions
KEY_NAMES = {13: "enter", 10: "enter", 27: "esc", 8: "backspace", 26: "ctrl+z", 65361: "left", 65363: "right"}


def fit_scale(width: int, height: int, max_width: int = 1600, max_height: int = 980) -> float:
    """Display scale that fits a frame on a common screen without enlarging it."""
    return min(1.0, max_width / width, max_height / height)


def render(session: Session, image: np.ndarray | None, scale: float = 1.0) -> np.ndarray:
    """The window content: frame with markers, timeline, status bar, and help when asked for."""
    width, height = round(session.annotations.width * scale), round(session.annotations.height * scale)
    if image is None:
        canvas = np.full((height, width, 3), 40, np.uint8)
    else:
        canvas = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA) if scale != 1.0 else image.copy()
    hovered = session.hovered()
    for marker in session.markers:
        _draw_marker(canvas, marker, scale, marker.id in (session.selected, hovered.id if hovered else None))
    panel = np.full((TIMELINE_HEIGHT + STATUS_HEIGHT, width, 3), 24, np.uint8)
    _draw_timeline(panel[:TIMELINE_HEIGHT], session)
    _draw_status(panel[TIMELINE_HEIGHT:], session)
    canvas = np.vstack([canvas, panel])
    if session.show_help:
        _draw_help(canvas)
    return canvas


def _draw_marker(canvas: np.ndarray, marker, scale: float, highlighted: bool) -> None:
    colour = UNCERTAIN_COLOUR if marker.uncertain else OPEN_COLOUR if marker.label == OPEN else OTHER_COLOUR
    centre = (round((marker.x * scale - 0.5) * 2**SUBPIXEL), round((marker.y * scale - 0.5) * 2**SUBPIXEL))
    radius = round(marker.r * scale * 2**SUBPIXEL)
    thickness = 2 if marker.source == MANUAL else 1
    if highlighted:
        cv2.circle(canvas, centre, radius, SELECTED_COLOUR, thickness + 2, cv2.LINE_AA, SUBPIXEL)
    if marker.uncertain:  # dashed: this position is only the last trustworthy one
        for start in range(0, 360, 30):
            cv2.ellipse(canvas, centre, (radius, radius), 0, start, start + 15, colour, 2, cv2.LINE_AA, SUBPIXEL)
    else:
        cv2.circle(canvas, centre, radius, colour, thickness, cv2.LINE_AA, SUBPIXEL)
    cv2.drawMarker(canvas, (round(marker.x * scale - 0.5), round(marker.y * scale - 0.5)), colour, cv2.MARKER_CROSS, 9, 1)
    text = (f"{marker.id} {marker.label}" + (f" {marker.pose}" if marker.pose else "") + (" ?" if marker.uncertain else "")
            + (" (flow)" if marker.source == FLOW else ""))
    origin = (round((marker.x - marker.r * 0.7) * scale), round((marker.y - marker.r) * scale) - 6)
    cv2.putText(canvas, text, origin, FONT, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(canvas, text, origin, FONT, 0.5, colour, 1, cv2.LINE_AA)


def _frame_state(annotations, frame: int) -> str | None:
    """How a frame is labelled, for the timeline: None, "no hands", "flow", "manual" or "uncertain"."""
    if frame not in annotations.frames:
        return None
    markers = annotations.frames[frame]
    if not markers:
        return "no hands"
    if any(m.uncertain for m in markers):
        return "uncertain"
    return FLOW if markers and all(m.source == FLOW for m in markers) else MANUAL


def _draw_timeline(strip: np.ndarray, session: Session) -> None:
    width, count = strip.shape[1], session.annotations.frame_count
    for column in range(width):
        first, last = column * count // width, max((column + 1) * count // width, column * count // width + 1)
        states = {_frame_state(session.annotations, f) for f in range(first, min(last, count))}
        state = next((s for s in ("uncertain", None, FLOW, "no hands", MANUAL) if s in states), None)
        strip[:, column] = TIMELINE_COLOURS[state]
    cursor = min(session.frame * width // max(count, 1), width - 1)
    strip[:, max(cursor - 1, 0):cursor + 2] = SELECTED_COLOUR


def _draw_status(bar: np.ndarray, session: Session) -> None:
    markers = session.markers
    flow = sum(m.source == FLOW for m in markers)
    state = {"play": "  [playing]", "propagate": "  [propagating]"}.get(session.mode, "")
    negative = _frame_state(session.annotations, session.frame) == "no hands"
    hands = "no hands here" if negative else f"hands {len(markers)}"
    first = f"frame {session.frame}/{session.annotations.frame_count - 1}  {hands}"
    first += (f" ({flow} flow)" if flow else "") + state + "   ? help"
    second = f"go to frame: {session.goto}_" if session.goto is not None else session.message
    cv2.putText(bar, first, (6, 15), FONT, 0.45, (230, 230, 230), 1, cv2.LINE_AA)
    cv2.putText(bar, second, (6, 33), FONT, 0.45, (120, 220, 255), 1, cv2.LINE_AA)


def _draw_help(canvas: np.ndarray) -> None:
    """Every key over a darkened frame; lines shrink to fit small videos."""
    line = min(20, canvas.shape[0] // (len(HELP) + 1))
    widest = max(cv2.getTextSize(action, FONT, 0.45, 1)[0][0] for _, action in HELP)
    font = 0.45 * min(1.0, line / 18, (canvas.shape[1] - 126) / widest)
    region = canvas[: line * (len(HELP) + 1), : min(canvas.shape[1], 420)]
    region[:] = (region * 0.25).astype(np.uint8)
    for row, (key, action) in enumerate(HELP):
        y = line * (row + 1)
        cv2.putText(canvas, key, (8, y), FONT, font, (120, 220, 255), 1, cv2.LINE_AA)
        cv2.putText(canvas, action, (120, y), FONT, font, (235, 235, 235), 1, cv2.LINE_AA)


def key_name(code: int) -> str | None:
    """A HighGUI key code as a session key name (None for keys the annotator does not use)."""
    if code in KEY_NAMES:
        return KEY_NAMES[code]
    return chr(code) if 32 <= code < 127 else None


class Window:
    """The HighGUI window glue: events in, rendered frames out, until the session quits."""

    def __init__(self, session: Session, title: str, scale: float):
        self.session, self.title, self.scale = session, title, scale
        self.frame_height = round(session.annotations.height * scale)
        session.hit_tolerance = 6.0 / scale  # six screen pixels, whatever the zoom
        cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)
        cv2.setMouseCallback(title, self._on_mouse)
        cv2.createTrackbar("frame", title, session.frame, max(session.annotations.frame_count - 1, 1), session.go_to)

    def _on_mouse(self, event: int, x: int, y: int, flags: int, param) -> None:
        kind = {cv2.EVENT_LBUTTONDOWN: "press", cv2.EVENT_MOUSEMOVE: "move", cv2.EVENT_LBUTTONUP: "release",
                cv2.EVENT_RBUTTONDOWN: "right"}.get(event)
        if kind is None:
            return
        if y >= self.frame_height and kind == "press":  # the timeline and status bar: jump to that frame
            width = round(self.session.annotations.width * self.scale)
            self.session.go_to(x * self.session.annotations.frame_count // max(width, 1))
            return
        self.session.mouse(kind, (x + 0.5) / self.scale, (min(y, self.frame_height - 1) + 0.5) / self.scale)

    def run(self) -> None:
        shown = None
        while not self.session.quit:
            if shown != (self.session.revision, self.session.frame):
                image = self.session.image()
                shown = (self.session.revision, self.session.frame)
                cv2.imshow(self.title, render(self.session, image, self.scale))
                if cv2.getTrackbarPos("frame", self.title) != self.session.frame:
                    cv2.setTrackbarPos("frame", self.title, self.session.frame)
            delay = {"play": max(1, round(1000 / self.session.annotations.fps)), "propagate": 1}.get(self.session.mode, 30)
            code = cv2.waitKeyEx(delay)
            name = key_name(code) if code != -1 else None
            if name is not None:
                self.session.key(name)
            elif self.session.mode is not None:
                self.session.tick()
            if cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:  # closed by its title bar
                self.session.save()
                break
        cv2.destroyWindow(self.title)
