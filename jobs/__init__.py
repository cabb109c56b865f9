"""The queue boundary between the Slack side (`bot`) and the GPU side (`worker`).

Both sides import this package; it must stay light (no torch, no model code).
"""
