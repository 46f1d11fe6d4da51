"""Shipped configs: ``--config tiny`` (seconds, CI)."""
