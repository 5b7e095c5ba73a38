"""driftwatch.yml and the other config files, parsed once (layer 2: below sources/storage, above stats).

- loading.py: `load_settings` / `parse_settings`, the one entry point that reads driftwatch.yml.
- settings.py: `Settings` (the parsed file) and the `database:` section.
- monitors.py: the `monitors:` section; performance.py: a monitor's `task` and `performance:`.
- server.py: the `server:` section (API access, limits, schedules); alerting.py: the `alerting:` section.
- channels.py: channel declarations (driftwatch.yml and rule files) as plain `ChannelConfig`.
- sources.py: a source's `object_store:` and `database:` sections (docs/sources.md).
- sections.py: reading one mapping with errors naming file and key; issues.py: rule-file problems with
  lines; yaml_lines.py: YAML loading that refuses duplicate keys and remembers lines.

Nothing is imported here, so `import driftwatch.config.x` loads only what x needs (the CLI starts fast).
"""
