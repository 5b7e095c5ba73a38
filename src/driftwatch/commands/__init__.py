"""Sub-commands of the `driftwatch` CLI that live outside cli.py (registered there)."""
