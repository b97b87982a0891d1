"""Hand annotator: label hands in a video with markers that optical flow carries from frame to frame."""
