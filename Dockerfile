# pplbot: Matrix and Telegram bot for the Peer Production License.
# Build:  docker build -t pplbot .
# Run:    docker run -v pplbot-data:/data -e PPLBOT_TELEGRAM_TOKEN=... pplbot
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PPLBOT_DATA_DIR=/data \
    PPLBOT_KNOWLEDGE_DIR=/app/knowledge \
    PPLBOT_HTTP_LISTEN=0.0.0.0:8080

RUN useradd --create-home --uid 10001 pplbot && mkdir -p /data && chown pplbot /data
WORKDIR /app
COPY --chown=pplbot pyproject.toml README.md LICENSE.md ./
COPY --chown=pplbot pplbot ./pplbot
COPY --chown=pplbot knowledge ./knowledge

# The same install as the README's quickstart (without the test extras).
RUN python3 -m venv .venv && .venv/bin/pip install -e .

USER pplbot
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD .venv/bin/python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"
STOPSIGNAL SIGTERM
ENTRYPOINT [".venv/bin/pplbot"]
CMD ["run"]
