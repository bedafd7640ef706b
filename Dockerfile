FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub hub
COPY connectors connectors
COPY decision decision
COPY tasks tasks
RUN pip install --no-cache-dir '.[ops]'
ENTRYPOINT []
