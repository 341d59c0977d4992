# Haven: the API, the web client and the alert engine in one image.
#   docker build -t haven .
#   docker run -p 8000:8000 -v haven-data:/var/lib/haven haven
# With no other setting this runs in development mode on an embedded SQLite database in the
# volume; docker-compose.yml shows the production layout (PostgreSQL, a keyring from outside).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed uid, so a keyring mounted from the host can be owned by it (chown 10001).
RUN groupadd --system --gid 10001 haven \
    && useradd --system --uid 10001 --gid haven --home-dir /var/lib/haven --no-create-home \
        --shell /usr/sbin/nologin haven

WORKDIR /srv/haven
# Editable install: Alembic reads migrations/ and alembic.ini from this source tree.
# The tree stays owned by root, so the service cannot change its own code.
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN pip install --no-cache-dir -e . \
    && mkdir -p /var/lib/haven \
    && chown haven:haven /var/lib/haven \
    && chmod 0700 /var/lib/haven

ENV HAVEN_DATA_DIR=/var/lib/haven \
    HAVEN_DATABASE_URL=sqlite:////var/lib/haven/haven.db
VOLUME /var/lib/haven

USER haven
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

ENTRYPOINT ["haven"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
