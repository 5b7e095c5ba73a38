# driftwatch as a container: the same set-up and the same `driftwatch serve` line as the README.
# Layout: code and the shipped alert rules in /app (read-only, owned by root); everything the service writes
# (database, reports, alert log) on the /data volume, owned by the non-root user that runs it. The config
# (/data/driftwatch.yml, deploy/driftwatch.yml in this repo) names the rules by their absolute path
# /app/alert_rules. tests/test_deploy.py lays this tree out from the lines below and runs the CMD and the
# HEALTHCHECK in it (docs/operations.md, "Container image").
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY deploy/constraints.txt ./constraints.txt
COPY src ./src
COPY alert_rules ./alert_rules
ENV UV_PYTHON_DOWNLOADS=never \
    NUMBA_CACHE_DIR=/var/cache/driftwatch/numba \
    PYTHONUNBUFFERED=1
# Dependencies at the exact versions of deploy/constraints.txt (generated at release time from pyproject's
# ranges), the package itself installed non-editable. Then the service user (uid 10001) and the folders it
# writes: the numba compile cache and the data volume's state/ and reports/.
RUN python3 -m venv .venv && .venv/bin/pip install -q uv==0.13.9 \
    && .venv/bin/uv pip install --python .venv/bin/python --no-cache --constraint constraints.txt . \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home driftwatch \
    && mkdir -p /var/cache/driftwatch/numba /data/state /data/reports \
    && chown -R 10001:10001 /var/cache/driftwatch /data

USER 10001:10001
EXPOSE 8080
VOLUME ["/data"]
# /health answers 200 while the server runs (python's urllib: the slim image has no curl). The start period
# covers the kernel warm-up and the catch-up cycle of a first start.
HEALTHCHECK --interval=30s --timeout=5s --start-period=180s --retries=3 \
    CMD ["/app/.venv/bin/python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4)"]
# The config lives on the data volume; its relative paths (storage, reports, alert log) resolve there.
CMD [".venv/bin/driftwatch", "serve", "--config", "/data/driftwatch.yml", "--host", "0.0.0.0", "--port", "8080"]
