"""Alert rules, pure evaluation, messages and at-least-once delivery.

model        samples in, rules, per-instance state, notifications out (dataclasses)
rules        load_rules / check_rules: strict validation of alert_rules/*.yml
evaluation   evaluate(rules, samples, previous_state, silences, now) -> EvaluationResult (pure)
grouping     notifications -> one AlertGroup (message) per monitor, rule, transition, channel and window
delivery     Outbox protocol, RetryPolicy and the Sender that drains the outbox
channels/    slack, webhook (Alertmanager v4) and log destinations
rule_tests   `driftwatch rules test`; silences, templates and secret hold the smaller pieces

Nothing is re-exported here so that importing the rules or the evaluator does not import the HTTP clients.
"""
