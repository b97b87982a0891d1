"""Detections over time to tracked hands with stable ids (Kalman / one-euro)."""
