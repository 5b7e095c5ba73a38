"""`python -m driftwatch.cli ...`, the same as the `driftwatch` script."""

from driftwatch.cli import main

main()
