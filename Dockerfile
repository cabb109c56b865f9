# Two images from one file: the light Slack listener (no torch) and the GPU worker.
FROM python:3.11-slim AS base
WORKDIR /app
RUN useradd --create-home chatops
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY jobs ./jobs
COPY worker ./worker
COPY examples ./examples

FROM base AS bot
RUN pip install --no-cache-dir .
USER chatops
CMD ["python", "-m", "bot"]

FROM base AS worker
RUN pip install --no-cache-dir torch && pip install --no-cache-dir '.[worker]'
USER chatops
CMD ["python", "-m", "worker"]
