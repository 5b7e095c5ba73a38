"""driftwatch."""
