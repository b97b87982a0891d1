"""Where frames come from: cameras, video files, image folders (read on a capture thread)."""
