# syntax=docker/dockerfile:1
# Quill Console image: three stages, and only the last one ships.
#   assets   htmx from the npm registry, installed from package-lock.json as `make assets` does
#   build    wheels for the pinned dependencies installed into /opt/venv, plus the project
#   runtime  python slim, the venv and the sources; no compiler, no npm, runs as a non-root user

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm
ARG NODE_IMAGE=node:22.17.0-bookworm-slim

FROM ${NODE_IMAGE} AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error \
    && mkdir -p /out/vendor \
    && cp node_modules/htmx.org/dist/htmx.min.js /out/vendor/htmx.min.js

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
# The runtime dependencies exactly as pinned in pyproject.toml: built as wheels here (where a
# compiler may be needed), then installed from those wheels only.
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && /opt/venv/bin/pip wheel --wheel-dir /wheels --requirement /tmp/requirements.txt \
    && /opt/venv/bin/pip install --no-index --find-links /wheels --requirement /tmp/requirements.txt
# The project is installed in editable form at /app, the same path the runtime stage uses: the
# app factory finds templates/, static/ and migrations/ beside the package, and the installed
# metadata gives the status page the console's version.
COPY console ./console
RUN /opt/venv/bin/pip install --no-deps --editable .

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CONSOLE_INSTANCE_PATH=/tmp/instance \
    PORT=8000
RUN groupadd --system --gid 10001 quill \
    && useradd --system --uid 10001 --gid quill --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin quill
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY console ./console
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY --from=assets /out/vendor ./static/vendor
COPY docker/entrypoint.sh docker/gunicorn.conf.py docker/healthcheck.py ./docker/
# Byte-compile once as root; the code stays read-only to the user that runs it.
RUN python -m compileall -q console migrations docker
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["serve"]
