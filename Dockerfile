# Two images from one file: the light Slack listener (no torch) and the GPU worker. Both install exactly
# the versions locked in uv.lock.
FROM python:3.11-slim AS base
WORKDIR /app
RUN useradd --create-home chatops && pip install --no-cache-dir uv==0.13.9
COPY pyproject.toml uv.lock README.md ./
COPY bot ./bot
COPY jobs ./jobs
COPY worker ./worker
COPY examples ./examples

FROM base AS bot
RUN uv export --frozen --no-hashes --no-emit-project -o /tmp/constraints.txt \
    && pip install --no-cache-dir -c /tmp/constraints.txt .
USER chatops
CMD ["python", "-m", "bot"]

FROM base AS worker
RUN uv export --frozen --no-hashes --no-emit-project --extra worker -o /tmp/constraints.txt \
    && pip install --no-cache-dir -c /tmp/constraints.txt '.[worker]'
USER chatops
CMD ["python", "-m", "worker"]
