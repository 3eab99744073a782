# IOC Wall: one image for the wall, the feed workers and the alert evaluator.
#   docker build -t ioc-wall .
#   docker run -p 8050:8050 -e IOC_STORE=influxdb://influx:8086/ioc ioc-wall
#   docker run ioc-wall python -m feeds mqtt      (or: python -m wall alerts)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# The leaders' brief (python -m wall brief) embeds DejaVu Sans for Vietnamese diacritics.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY wall/ wall/
COPY layouts/ layouts/
COPY callbacks/ callbacks/
COPY feeds/ feeds/
COPY assets/ assets/
COPY cities/ cities/

# Every folder a service writes exists here, owned by the services' user: a volume mounted on
# one (docker-compose.yml) starts as a copy of it, owner included; a mount point the image
# lacked would be created by the engine as root, and the service would refuse to start.
#   /app/data            the embedded store and session key file (when used: not in compose)
#   /app/data/spool      MQTT workers' spool (IOC_INGEST_SPOOL_DIR), a folder per client id
#   /app/data/poll       poll worker's Open311 state (IOC_POLL_STATE_DIR)
#   /app/data/heartbeat  alert and retention services' heartbeats (IOC_HEARTBEAT_DIR)
#   /tmp                 the wall's cache folder when no IOC_CACHE_URL, gunicorn's worker files
RUN useradd --system --uid 10001 --user-group --home-dir /app ioc \
    && mkdir -p /app/data/spool /app/data/poll /app/data/heartbeat \
    && chown -R ioc:ioc /app/data
USER ioc
VOLUME ["/app/data"]
EXPOSE 8050

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8050/healthz', timeout=4).status != 200)"

CMD ["python", "-m", "wall", "serve", "--host", "0.0.0.0", "--port", "8050"]
