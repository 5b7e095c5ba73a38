"""The names the model's own outputs get among a window's features.

The model's score and its decision mix are watched like input features, under these two names. They sit in a
module of their own, below both the decision rules that treat them as outputs (`stats.decision`) and the schema
that maps them to their columns (`storage.schema`), so neither depends on the other for two constants.
"""

from __future__ import annotations

PREDICTION_FEATURE = "raw_prediction"
"""The name the model's score gets among a window's features (the log schema's name for it)."""
OUTPUT_FEATURE = "business_output"
"""The name the model's decision mix (its `business_output` shares) gets among a window's features."""
OUTPUT_FEATURES = (PREDICTION_FEATURE, OUTPUT_FEATURE)
