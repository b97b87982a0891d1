"""The annotator's behaviour as a state machine: key names, mouse events and clock ticks in, labels out.

No drawing and no window here, so tests drive exactly what a user does with scripted events. The
view translates window events into `key()`, `mouse()` and `tick()` calls (mouse positions in
continuous frame pixels) and draws what it reads from the session. Every change is undoable and
saved at once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from heatmapnet.data.hands import OPEN, OTHER
from heatmapnet.data.hands_json import Annotations, Marker, needs_review
from heatmapnet.sources.video import FrameError

from .flow import FlowConfig
from .propagation import carry
from .store import Store

HELP = (
    ("click", "add a hand (drag to draw its size)"),
    ("drag", "move a hand; drag its rim to resize"),
    ("right-click", "delete a hand"),
    ("o", "toggle label open / other"),
    ("l / L", "next / previous pose (--poses), or none"),
    ("[ / ]", "smaller / bigger"),
    ("d / f, arrows", "previous / next frame"),
    ("c / v", "back / forward 10 frames"),
    ("space", "play / pause"),
    ("g", "go to frame (type number, Enter)"),
    ("n", "next frame without labels"),
    ("x", "no hands here (a negative frame), then next"),
    ("r", "review: next frame with flow-carried hands"),
    ("a", "accept this frame's hands, then review on"),
    ("2 / 1", "carry hands one frame forward / back"),
    ("Enter", "accept frame and carry forward"),
    ("p", "carry forward until unsure (any key stops)"),
    ("u / Ctrl+Z", "undo"),
    ("s", "save (also automatic)"),
    ("?", "this help"),
    ("q / Esc", "save and quit"),
)
MAX_UNDO = 200
RESIZE_STEP = 1.1


@dataclass
class Drag:
    id: int
    mode: str  # "move", "resize" or "draw" (a new hand whose radius follows the pointer)
    dx: float = 0.0  # centre minus pointer when the drag started
    dy: float = 0.0


@dataclass(frozen=True)
class Snapshot:
    frames: dict
    frame: int


class Session:
    """One user's work on one video: the current frame, the labels, selection, undo history and modes."""

    def __init__(self, video, annotations: Annotations, store: Store, flow: FlowConfig = FlowConfig()):
        self.video = video
        self.annotations = annotations
        self.store = store
        self.flow = flow
        self.frame = annotations.current_frame
        self.selected: int | None = None
        self.pointer: tuple[float, float] | None = None
        self.drag: Drag | None = None
        self.mode: str | None = None  # "play" or "propagate" while the clock drives the session
        self.goto: str | None = None  # digits typed after `g`
        self.show_help = False
        self.message = ""
        self.quit = False
        self.hit_tolerance = 6.0  # frame pixels around a rim that grab it
        self.radius = 0.08 * min(annotations.width, annotations.height)  # radius of the next new hand
        self.revision = 0  # bumped on every visible change, so the view redraws only when needed
        self._undo: list[Snapshot] = []

    # ---- what the view reads
    @property
    def markers(self) -> tuple[Marker, ...]:
        return self.annotations.markers(self.frame)

    def image(self):
        """The current frame (BGR), or None with the reason in `message` when it does not decode."""
        try:
            return self.video.frame(self.frame)
        except FrameError as error:
            self.message = f"{error}; labels are kept"
            return None

    def hovered(self) -> Marker | None:
        return self._hand_at(*self.pointer) if self.pointer else None

    # ---- events
    def key(self, name: str) -> None:
        """A key press: a single character, or "enter", "esc", "backspace", "left", "right", "ctrl+z"."""
        self.revision += 1
        if self.goto is not None:
            self._goto_key(name)
            return
        if self.mode is not None:
            mode = self.mode
            self._stop(f"{mode} stopped at frame {self.frame}")
            if (name, mode) in ((" ", "play"), ("p", "propagate")):  # the key that started it only stops it
                return
        action = {
            "d": lambda: self.go_to(self.frame - 1), "f": lambda: self.go_to(self.frame + 1),
            "left": lambda: self.go_to(self.frame - 1), "right": lambda: self.go_to(self.frame + 1),
            "c": lambda: self.go_to(self.frame - 10), "v": lambda: self.go_to(self.frame + 10),
            "n": self._next_unlabelled, "g": self._start_goto, " ": self._play,
            "x": self._no_hands, "r": self._next_to_review, "a": self._accept_and_review,
            "2": lambda: self._carry_once(+1), "1": lambda: self._carry_once(-1),
            "enter": self._accept_and_go, "p": self._start_propagation,
            "o": self._toggle_label, "l": lambda: self._cycle_pose(+1), "L": lambda: self._cycle_pose(-1),
            "[": lambda: self._resize(1 / RESIZE_STEP), "]": lambda: self._resize(RESIZE_STEP),
            "u": self.undo, "ctrl+z": self.undo, "s": self._save_key, "?": self._toggle_help,
            "q": self._quit, "esc": self._quit,
        }.get(name)
        if action is not None:
            action()

    def mouse(self, kind: str, x: float, y: float) -> None:
        """`kind` is "press", "move", "release" (left button) or "right" (a right click)."""
        x, y = float(x), float(y)
        self.pointer = (x, y)
        self.revision += 1
        if kind in ("press", "right") and self.mode is not None:
            self._stop(f"{self.mode} stopped at frame {self.frame}")
        if kind == "press":
            self._press(x, y)
        elif kind == "move" and self.drag is not None:
            self._drag_to(x, y)
        elif kind == "release" and self.drag is not None:
            hand, self.drag = self.drag.id, None
            if self._undo[-1].frames == self.annotations.frames:
                self._undo.pop()  # a click on a hand that changed nothing
            else:
                self._saved(f"hand {hand} set")
        elif kind == "right":
            self._delete_at(x, y)

    def tick(self) -> None:
        """Called by the view's clock: one frame of play or one propagation step."""
        if self.mode == "play":
            if self.frame + 1 >= self.annotations.frame_count:
                self._stop("end of the video")
            else:
                self.go_to(self.frame + 1)
        elif self.mode == "propagate":
            step = self._carry(+1)
            if step is not None and step.changed:
                self.go_to(step.target)
            if step is None:
                self._stop(self.message)
            elif step.stop or not step.changed:
                self._stop(f"propagation stopped: {step.stop}")

    # ---- navigation
    def go_to(self, frame: int) -> None:
        frame = min(max(int(frame), 0), self.annotations.frame_count - 1)
        if frame != self.frame:
            self.frame = frame
            self.annotations.current_frame = frame
            self.revision += 1

    def _next_unlabelled(self) -> None:
        following = (i for i in range(self.frame + 1, self.annotations.frame_count) if i not in self.annotations.frames)
        frame = next(following, None)
        if frame is None:
            self.message = "every frame after this one is labelled"
        else:
            self.go_to(frame)

    def _next_to_review(self) -> bool:
        """Go to the next frame whose hands flow placed and nobody checked yet (wrapping round); False if none."""
        count = self.annotations.frame_count
        following = ((self.frame + step) % count for step in range(1, count + 1))
        frame = next((i for i in following if needs_review(self.annotations.markers(i))), None)
        if frame is None:
            self.message = "nothing to review: no flow-carried hands left"
            return False
        self.go_to(frame)
        return True

    def _start_goto(self) -> None:
        self.goto = ""

    def _goto_key(self, name: str) -> None:
        if name.isdigit():
            self.goto += name
        elif name == "backspace":
            self.goto = self.goto[:-1]
        elif name == "enter" and self.goto:
            self.go_to(int(self.goto))
            self.goto = None
        elif name in ("esc", "enter"):
            self.goto = None

    def _play(self) -> None:
        self.mode = "play"

    def _stop(self, message: str) -> None:
        if self.mode == "propagate":
            if self._undo[-1].frames == self.annotations.frames:
                self._undo.pop()
            self._saved(message)
        else:
            self.message = message
        self.mode = None

    # ---- propagation
    def _carry(self, direction: int):
        try:
            return carry(self.video, self.annotations, self.frame, direction, self.flow)
        except FrameError as error:
            self.message = f"{error}; labels are kept"
            return None

    def _carry_once(self, direction: int) -> None:
        self._checkpoint()
        step = self._carry(direction)
        if step is None or not step.changed:
            self._undo.pop()
            if step is not None:
                self.message = step.stop
            return
        self.go_to(step.target)
        self._saved(step.stop or f"carried {len(self.markers)} hand(s) to frame {step.target}")

    def _accept_and_go(self) -> None:
        """Label-and-go: the user vouches for this frame (even an empty one), then flow fills the next."""
        self._checkpoint()
        self.annotations.frames[self.frame] = tuple(m.touched() for m in self.markers)
        step = self._carry(+1)
        if step is None:
            self.save()
        elif step.changed:
            self.go_to(step.target)
            self._saved(step.stop or f"accepted; carried to frame {step.target}")
        else:
            self._saved(f"accepted frame {self.frame}")
            self.go_to(self.frame + 1)

    def _accept_and_review(self) -> None:
        """The review pass: the user vouches for this frame's hands as they are, then goes to the next to check."""
        if not needs_review(self.markers):
            self._next_to_review()
            return
        self._checkpoint()
        self.annotations.frames[self.frame] = tuple(m.touched() for m in self.markers)
        accepted = self.frame
        self._saved(f"accepted frame {accepted}")
        if self._next_to_review():
            self.message = f"accepted frame {accepted}; reviewing frame {self.frame}"

    def _no_hands(self) -> None:
        """A negative frame: the user says there is no hand here (unlike an unlabelled frame, training learns it)."""
        self._checkpoint()
        removed = len(self.markers)
        self.annotations.frames[self.frame] = ()
        self._saved(f"frame {self.frame}: no hands here" + (f" ({removed} hand(s) removed)" if removed else ""))
        self.go_to(self.frame + 1)

    def _start_propagation(self) -> None:
        self._checkpoint()
        self.mode = "propagate"
        self.message = "propagating: any key stops"

    # ---- editing
    def _hand_at(self, x: float, y: float, rim: bool = False) -> Marker | None:
        """The hand whose disc (or, with rim=True, whose rim) is under (x, y); the closest fit wins."""
        scored = []
        for marker in self.markers:
            distance = math.hypot(x - marker.x, y - marker.y)
            if rim and abs(distance - marker.r) <= self.hit_tolerance:
                scored.append((abs(distance - marker.r), marker.id, marker))
            elif not rim and distance <= marker.r + self.hit_tolerance:
                scored.append((distance / marker.r, marker.id, marker))
        return min(scored)[2] if scored else None

    def _target(self) -> Marker | None:
        """The hand a key acts on: under the pointer, else the selected one, else the only one."""
        marker = self.hovered()
        if marker is None:
            marker = next((m for m in self.markers if m.id == self.selected), None)
        if marker is None and len(self.markers) == 1:
            marker = self.markers[0]
        if marker is None:
            self.message = "point at a hand first"
        return marker

    def _replace(self, marker: Marker) -> None:
        self.annotations.frames[self.frame] = tuple(marker if m.id == marker.id else m for m in self.markers)
        self.selected = marker.id

    def _press(self, x: float, y: float) -> None:
        """Grab a rim to resize, a disc to move, or start a new hand on empty space."""
        self._checkpoint()
        rim, inside = self._hand_at(x, y, rim=True), self._hand_at(x, y)
        if rim is not None and (inside is None or inside.id == rim.id or not self._near_centre(inside, x, y)):
            self.drag = Drag(rim.id, "resize")
            self._replace(rim.touched())
        elif inside is not None:
            self.drag = Drag(inside.id, "move", inside.x - x, inside.y - y)
            self._replace(inside.touched())
        else:
            marker = Marker(self.annotations.next_id(), x, y, self.radius)
            self.annotations.frames[self.frame] = self.markers + (marker,)
            self.selected = marker.id
            self.drag = Drag(marker.id, "draw")

    @staticmethod
    def _near_centre(marker: Marker, x: float, y: float) -> bool:
        return math.hypot(x - marker.x, y - marker.y) <= 0.5 * marker.r

    def _drag_to(self, x: float, y: float) -> None:
        marker = next(m for m in self.markers if m.id == self.drag.id)
        if self.drag.mode == "move":
            marker = marker.touched(x=x + self.drag.dx, y=y + self.drag.dy)
        else:
            distance = math.hypot(x - marker.x, y - marker.y)
            if self.drag.mode == "resize" or distance > self.hit_tolerance:
                marker = marker.touched(r=max(distance, 2.0))
                self.radius = marker.r
        self._replace(marker)

    def _delete_at(self, x: float, y: float) -> None:
        marker = self._hand_at(x, y)
        if marker is None:
            return
        self._checkpoint()
        self.annotations.frames[self.frame] = tuple(m for m in self.markers if m.id != marker.id)
        self._saved(f"deleted hand {marker.id}")

    def _toggle_label(self) -> None:
        marker = self._target()
        if marker is not None:
            self._checkpoint()
            label = OTHER if marker.label == OPEN else OPEN
            self._replace(marker.touched(label=label))
            self._saved(f"hand {marker.id} is {label}")

    def _cycle_pose(self, step: int) -> None:
        """The hand's pose steps through the file's pose classes and back to unlabelled."""
        poses = self.annotations.poses
        if not poses:
            self.message = "no pose classes in this file: start the annotator with --poses fist,palm,none (yours)"
            return
        marker = self._target()
        if marker is not None:
            self._checkpoint()
            choices = (None, *poses)
            pose = choices[(choices.index(marker.pose) + step) % len(choices)]
            self._replace(marker.touched(pose=pose))
            self._saved(f"hand {marker.id} pose: {pose or 'not labelled'}")

    def _resize(self, factor: float) -> None:
        marker = self._target()
        if marker is not None:
            self._checkpoint()
            self.radius = max(marker.r * factor, 2.0)
            self._replace(marker.touched(r=self.radius))
            self._saved(f"hand {marker.id} radius {self.radius:.0f}")

    # ---- undo and saving
    def _checkpoint(self) -> None:
        """Remember the state before a change (frame lists are immutable tuples: a dict copy suffices)."""
        self._undo.append(Snapshot(dict(self.annotations.frames), self.frame))
        del self._undo[:-MAX_UNDO]

    def undo(self) -> None:
        if not self._undo:
            self.message = "nothing to undo"
            return
        snapshot = self._undo.pop()
        self.annotations.frames = dict(snapshot.frames)
        self.go_to(snapshot.frame)
        self._saved(f"undone ({len(self._undo)} more)")

    def save(self) -> bool:
        self.annotations.current_frame = self.frame
        try:
            self.store.save(self.annotations)
        except OSError as error:
            self.message = f"could not save {self.store.path} ({error.strerror}); labels are kept in memory, retrying on the next change"
            return False
        return True

    def _saved(self, message: str) -> None:
        if self.save():
            self.message = message

    def _save_key(self) -> None:
        self._saved(f"saved {self.store.path}")

    def _toggle_help(self) -> None:
        self.show_help = not self.show_help

    def _quit(self) -> None:
        if self.show_help:
            self.show_help = False
            return
        self.save()
        self.quit = True
