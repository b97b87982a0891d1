"""The live window: shows annotated frames and turns keys into actions (h: heatmap, q/Esc: quit)."""
from __future__ import annotations

import os
import sys

import cv2
import numpy as np

from heatmapnet.config import first_line
from heatmapnet.errors import UserError

WINDOW = "HeatmapNet  (h: heatmap, q/Esc: quit)"
KEYS = {ord("q"): "quit", 27: "quit", ord("h"): "heatmap"}


def display_available() -> bool:
    return sys.platform in ("win32", "darwin") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def use_display(setting) -> bool:
    """display=true|false|null (null: when a display is available) as a yes/no, checked."""
    if not (setting is None or isinstance(setting, bool)):
        raise UserError(f"display must be true, false or null, not {setting!r}")
    if setting is None:
        return display_available()
    if setting and not display_available():
        raise UserError("display=true but no display is available (DISPLAY is not set): use display=false, "
                        "or run under xvfb-run")
    return setting


class Viewer:
    """The window: shows annotated frames; `h` toggles the heatmap, `q`/Esc or closing it quits."""

    def __init__(self):
        try:
            cv2.namedWindow(WINDOW, cv2.WINDOW_AUTOSIZE)
        except cv2.error as error:
            raise UserError(f"cannot open a window ({first_line(error)}): use display=false") from None

    def show(self, image: np.ndarray) -> str | None:
        """Show a frame; returns "quit", "heatmap" or None from the keyboard."""
        cv2.imshow(WINDOW, image)
        key = cv2.waitKey(1) & 0xFF
        if cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
            return "quit"
        return KEYS.get(key)

    def close(self) -> None:
        cv2.destroyWindow(WINDOW)
