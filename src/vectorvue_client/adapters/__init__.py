"""Adapters: one module per port implementation, named <port>_<technology>.py."""
