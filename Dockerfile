# driftwatch as a container: the same set-up and the same `driftwatch serve` line as the README.
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY alert_rules ./alert_rules
ENV UV_PYTHON_DOWNLOADS=never \
    NUMBA_CACHE_DIR=/var/cache/driftwatch/numba \
    PYTHONUNBUFFERED=1
RUN python3 -m venv .venv && .venv/bin/pip install -q uv && .venv/bin/uv sync --no-dev \
    && mkdir -p /var/cache/driftwatch/numba /data /data/reports

EXPOSE 8080
VOLUME ["/data"]
# The config lives on the data volume; its relative paths (storage, reports, logs) resolve there.
CMD [".venv/bin/driftwatch", "serve", "--config", "/data/driftwatch.yml", "--host", "0.0.0.0", "--port", "8080"]
