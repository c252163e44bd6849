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

WORKDIR /app

# Dependencies first, in a layer that changes only with the lock: the site's share of it (the library, [web] and
# [scale]; no issuing, no test tools) at the exact versions CI tested, each file checked against its hash. The app
# runs from /app, not installed. Issuing (and the CJK fonts it draws the sample with) stays outside the image.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock

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
