"""The network (torch): backbones, heads, checkpoints."""
