"""Motion gestures from hand tracks (swipes, drawn shapes) as events: no network on pixels, no torch."""
