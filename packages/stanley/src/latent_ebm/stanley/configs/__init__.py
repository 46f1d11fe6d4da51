"""Shipped configs: ``tiny`` (seconds, CI), ``demo`` (rings toy, minutes on 2 CPU cores), ``paper`` (CIFAR-10)."""
