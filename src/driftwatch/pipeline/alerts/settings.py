"""The `alerting:` settings → validated rules (`AlertingRun`), what a cycle needs to evaluate and deliver."""

from __future__ import annotations

from dataclasses import dataclass

from driftwatch.alerting.model import RuleSet
from driftwatch.alerting.rules import load_rules
from driftwatch.config.alerting import AlertingSettings, default_alerting
from driftwatch.config.channels import ChannelConfig, parse_channel_config
from driftwatch.config.retention import check_lookback
from driftwatch.config.settings import Settings


@dataclass(frozen=True)
class AlertingRun:
    """Validated rules and the settings they came with: what a cycle needs to evaluate and deliver."""

    settings: AlertingSettings
    rules: RuleSet


def alerting_settings(settings: Settings) -> AlertingSettings:
    """The project's `alerting:` settings. `load_settings` always parses the section (the defaults when it is
    absent); a `Settings` built by hand without it gets the same defaults: rules in `alert_rules/` beside the
    config file."""
    if settings.alerting is not None:
        return settings.alerting
    return default_alerting(settings.config_path.parent)


def channel_configs(settings: AlertingSettings) -> dict[str, ChannelConfig]:
    """The main config's channels as the alerting package's `ChannelConfig`s (raises RuleError)."""
    file = str(settings.base_dir / "driftwatch.yml")
    return {
        name: parse_channel_config(name, entry.as_mapping(), file)
        for name, entry in settings.channels.items()
    }


def load_alerting_rules(settings: AlertingSettings) -> RuleSet:
    """Rule files of `settings.rules`, with the main config's channels known (raises RuleError)."""
    return load_rules(settings.rules, known_channels=channel_configs(settings))


def check_rule_lookback(settings: Settings, run: AlertingRun | None) -> None:
    """Refuse a monitor's `retention.predictions` shorter than the rules' longest look-back (raises ConfigError).

    A rule with `for: N` (and `keep_firing_for: K`) judges the last N (+K) windows of a monitor; those windows
    must still be reproducible from raw rows (a reference change recomputes them), so their rows are kept.
    """
    if run is None or not run.rules.rules:
        return
    span = max(rule.for_windows + rule.keep_firing_for for rule in run.rules.rules)
    for name, monitor in settings.monitors.items():
        check_lookback(
            settings.config_path,
            name,
            monitor.retention,
            span * monitor.window,
            f"the alert rules' longest look-back (`for` + `keep_firing_for`: {span} windows)",
        )


def prepare_alerting(settings: AlertingSettings | None) -> AlertingRun | None:
    """None when alerting is off or there is no rules folder; raises RuleError when the rules are invalid."""
    if settings is None or not settings.enabled or not settings.rules.exists():
        return None
    return AlertingRun(settings, load_alerting_rules(settings))
