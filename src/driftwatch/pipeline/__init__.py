"""The steps of a monitoring cycle, in order: ingest, reference profile, windows. See `cycle.run_cycle`."""
