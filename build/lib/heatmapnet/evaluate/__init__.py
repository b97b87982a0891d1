"""Scoring a model on labelled data: point metrics and the evaluation command."""
