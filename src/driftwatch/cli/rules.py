"""`driftwatch rules check|test`: validate and unit-test alert rule files. Exit code 2 when a file is
invalid, 1 when a rule test fails."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from driftwatch.cli.console import err, errors, escape, fail, out
from driftwatch.cli.options import DEFAULT_CONFIG_NAME, ConfigOption, load

if TYPE_CHECKING:
    from driftwatch.config.channels import ChannelConfig

rules_app = typer.Typer(
    name="rules", help="Validate and unit-test alert rule files.", no_args_is_help=True, add_completion=False
)


def _known_channels(config: Path) -> tuple[dict[str, ChannelConfig], Path | None]:
    """(channels declared in the main config, the rules path it names); nothing when there is no config.

    Without --config a missing ./driftwatch.yml is fine (rules can be checked on their own); a --config
    that names a missing file is an error. Rule problems in the main config's channels exit 2, listed.
    """
    from driftwatch.config.issues import RuleError
    from driftwatch.pipeline.alerts import channel_configs

    if config == Path(DEFAULT_CONFIG_NAME) and not config.is_file():
        return {}, None
    settings = load(config)
    if settings.alerting is None:  # only a Settings built by hand has no section; load() always parses it
        return {}, None
    try:
        return channel_configs(settings.alerting), settings.alerting.rules
    except RuleError as error:
        for issue in error.issues:
            out.print(escape(str(issue)), highlight=False)
        raise typer.Exit(2) from None


@rules_app.command("check")
def rules_check(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="Rule file or folder (default: the config's `alerting.rules`, else alert_rules/)."
        ),
    ] = None,
    config: ConfigOption = Path(DEFAULT_CONFIG_NAME),
) -> None:
    """Validate rule files: every problem with its file, line and fix. Exit code 2 when there is one."""
    from driftwatch.alerting.rules import check_rules, load_rules

    with errors():
        channels, configured = _known_channels(config)
        target = path or configured or Path("alert_rules")
        if not target.exists():
            fail(
                f"{target}: no such file or folder (pass the rules folder, e.g. `driftwatch rules check alert_rules/`)"
            )
        issues = check_rules(target, channels)
        if issues:
            for issue in issues:
                out.print(escape(str(issue)), highlight=False)
            count = len(issues)
            err.print(f"{count} problem{'s' if count != 1 else ''} found", highlight=False)
            raise typer.Exit(2)
        rule_set = load_rules(target, channels)
    out.print(
        f"ok: {len(rule_set.rules)} rule(s) in {len(rule_set.files)} file(s), "
        f"channels: {escape(', '.join(sorted(rule_set.channels)) or 'none')}",
        highlight=False,
    )


@rules_app.command("test")
def rules_test(
    files: Annotated[list[Path], typer.Argument(help="Rule test files (*.test.yml).")],
    config: ConfigOption = Path(DEFAULT_CONFIG_NAME),
) -> None:
    """Run rule unit tests: window-by-window input series and the alerts expected after given windows.

    Exit code 1 when a test fails, 2 when a test or rule file is invalid.
    """
    from driftwatch.alerting.rule_tests import run_rule_tests

    code = 0
    with errors():
        channels, _ = _known_channels(config)
        for file in files:
            report = run_rule_tests(file, channels)
            out.print(escape(report.format()), highlight=False)
            if report.issues:
                code = 2
            elif report.failures and code == 0:
                code = 1
    if code:
        raise typer.Exit(code)
