# One image for the four services: `docker run IMAGE yogaclass_svc` (or reservation_svc,
# notification_svc, mypage_svc). Runtime only: the development stack, its SMTP sink, the tests,
# the bench and the web app stay out (tests/unit/test_runtime_packages.py holds it so).
# Runs as a non-root user on a read-only root filesystem: it writes only to /tmp and /data.
# It is the last stage, the default target.
#
# The web app has an image of its own, the target `web` (`docker build --target web .`): the
# assets built from web/ (stage web-build, Node) on nginx (nginx-unprivileged: uid 101, port
# 8080, writes only to /tmp). The Helm chart mounts its configuration (nginx.conf from
# nginx/nginx.conf.tmpl, config.json) at /etc/yoga-web.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
ARG NODE_IMAGE=node:20.20.2-bookworm-slim
ARG NGINX_IMAGE=nginxinc/nginx-unprivileged:1.28.0-alpine

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /build
COPY pyproject.toml ./
# The pinned runtime dependencies, read from pyproject.toml (the single place they are pinned);
# the dev extra (test, lint and development-stack packages) stays out.
RUN python -c "import tomllib; \
print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
  > requirements.txt \
 && cat requirements.txt \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir pip==26.3 \
 && /opt/venv/bin/pip install --no-cache-dir -r requirements.txt

FROM ${NODE_IMAGE} AS web-build
ENV npm_config_fund=false \
    npm_config_audit=false \
    npm_config_update_notifier=false
WORKDIR /build/web
# The lockfile first: the installed packages are a layer of their own, rebuilt only when it changes.
COPY web/package.json web/package-lock.json ./
RUN npm ci
COPY web/ ./
# The API's types are generated from the OpenAPI document at build time (`npm run build`).
COPY gen/openapi/ /build/gen/openapi/
RUN npm run build

FROM ${NGINX_IMAGE} AS web
LABEL org.opencontainers.image.title="yoga-studio-web" \
      org.opencontainers.image.description="Yoga-studio web app (Vue) on nginx"
COPY --from=web-build /build/web/dist /usr/share/nginx/html
USER 101:101
EXPOSE 8080
# The configuration is the deployment's (the chart's ConfigMap web-config); errors on stderr.
CMD ["nginx", "-e", "stderr", "-c", "/etc/yoga-web/nginx.conf"]

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="yoga-studio" \
      org.opencontainers.image.description="Yoga-studio gRPC services (yogaclass, reservation, notification, mypage)"
RUN groupadd --system --gid 10001 yoga \
 && useradd --system --no-log-init --uid 10001 --gid yoga --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin yoga \
 && mkdir -p /data \
 && chown yoga:yoga /data
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# Source, not an installed wheel: the generated code in gen/ (package `yoga`) goes on PYTHONPATH,
# as in the development virtualenv. Owned by root, so the service cannot change its own code.
# The runtime packages only: devtools/, tests/, bench/ and scripts/ are development tooling.
COPY gen/ gen/
COPY yoga_common/ yoga_common/
COPY yogaclass_svc/ yogaclass_svc/
COPY reservation_svc/ reservation_svc/
COPY notification_svc/ notification_svc/
COPY mypage_svc/ mypage_svc/
# Bytecode compiled now: at run time the root filesystem is read-only.
RUN /opt/venv/bin/python -m compileall -q /app
# Defaults that fit this layout (the Helm chart sets them all again). The *_KEY_FILE settings are
# paths of files mounted from a Secret, not secrets themselves: hence DL3064 is silenced.
# hadolint ignore=DL3064
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app:/app/gen \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    YOGACLASS_HOST=0.0.0.0 \
    RESERVATION_HOST=0.0.0.0 \
    NOTIFICATION_HOST=0.0.0.0 \
    MYPAGE_HOST=0.0.0.0 \
    YOGACLASS_DATABASE_URL=sqlite:////data/yogaclass.db \
    RESERVATION_DATABASE_URL=sqlite:////data/reservation.db \
    NOTIFICATION_DATABASE_URL=sqlite:////data/notification.db \
    MYPAGE_DATABASE_URL=sqlite:////data/mypage.db
VOLUME ["/data"]
USER 10001:10001
EXPOSE 50051 50052 50053 50054 9464
ENTRYPOINT ["python", "-m"]
CMD ["yogaclass_svc"]
