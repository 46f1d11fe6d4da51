"""Shipped configs: ``--config tiny`` (seconds, CI), ``demo`` (minutes on 2 CPU cores, offline),
``paper`` (the paper's sizes and growth stages on AFHQ's sample images)."""
