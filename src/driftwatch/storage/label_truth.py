"""How a labelled prediction's truth and score are read: SQL expressions over a label's `label` and
`label_value` and a prediction's `prediction` and `output` columns.

The same expressions read a window's labelled predictions (`storage.labels.window_label_rows`) and the
reference's target and score (`sources.reference_rows.reference_truth_and_score`), so both compare alike.
"""

from __future__ import annotations


def truth_and_score_sql(
    *, binary: bool, positive_label: str | int | float | bool, text_classes: bool
) -> tuple[str, str, dict[str, object]]:
    """The truth expression, the score (or predicted value) expression, and their bound parameters.

    With ``binary`` (a binary classifier), truth is 1.0 for the positive label, 0.0 for any other, NULL when unlabelled; the label matches the
    positive label as text or, for a numeric positive label, as a number ('1', '1.0' and 1 all match 1).
    ``text_classes`` (multiclass with the predicted class in `output`) compares labels as text; otherwise the
    label's number is the truth and `prediction` the score.
    """
    params: dict[str, object] = {}
    if binary:
        if isinstance(positive_label, bool):
            match = "lower(label) = $pos_text"
            params["pos_text"] = "true" if positive_label else "false"
        else:
            match = "label = $pos_text"
            params["pos_text"] = str(positive_label)
            if isinstance(positive_label, int | float):
                match += " OR label_value = $pos_num"
                params["pos_num"] = float(positive_label)
        truth = f"CASE WHEN label IS NULL THEN NULL WHEN {match} THEN 1.0 ELSE 0.0 END"
        return truth, "prediction", params
    if text_classes:
        return "label", "output", params
    return "label_value", "prediction", params
