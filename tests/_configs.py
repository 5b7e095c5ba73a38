"""Config text shared by the ingest tests' projects."""

# The end of the `m` monitor of the ingest tests' projects (features age, income, region; train.parquet as the
# reference), each project writing its own `predictions:` (or other keys) before it.
MONITOR_TAIL = """\
    reference:
      path: train.parquet
    features:
      numeric: [age, income]
      categorical: [region]
    min_rows: 1
"""
