# certverify: the site served by gunicorn, as one app instance of the scaled shape (see compose.yaml).
#   docker build -t certverify .
#   docker run --rm -p 8000:8000 -e SECRET_KEY=... -v "$PWD/keys:/run/certverify/keys:ro" certverify
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CERTVERIFY_BIND=0.0.0.0:8000 \
    CERTVERIFY_KEYS_DIR=/run/certverify/keys

# IPA fonts: the sample certificate front (python -m verify issue) is drawn with a Japanese font.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-ipafont-gothic fonts-ipafont-mincho \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first (a layer that changes only with pyproject.toml); the app runs from /app, not installed.
COPY pyproject.toml ./
RUN python - <<'PY' > /tmp/requirements.txt && pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt
import tomllib
print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))
PY

COPY app.py gunicorn.conf.py babel.cfg ./
COPY verify ./verify
COPY web ./web
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY translations ./translations
RUN python -m web.i18n \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin certverify \
    && mkdir -p /app/instance /run/certverify/keys \
    && chown certverify /app/instance

USER certverify
EXPOSE 8000
# Uploads never touch the disk; the instance folder holds only the SQLite log when no DATABASE_URL is given.
VOLUME ["/app/instance"]

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]

CMD ["gunicorn", "--config", "gunicorn.conf.py", "app:create_app()"]
