"""finhouse: the thin Python glue of the platform (configuration, the `finhouse` CLI, helpers)."""

__version__ = "0.1.0"
