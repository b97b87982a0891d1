"""Training beside the tracking flow: targets, losses, the loop, release of a checkpoint."""
