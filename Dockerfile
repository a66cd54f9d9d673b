# syntax=docker/dockerfile:1
#
# dragonflybot gRPC server image.
#
#   builder  builds the wheel (Cython core compiled, protobuf/gRPC code generated
#            from proto/) and installs it with its dependencies into /opt/dragonfly
#   runtime  python slim + /opt/dragonfly only: no compiler, no sources, non-root
#
# Build profiles (--build-arg BUILD_PROFILE=...):
#   release  (default) compiled core, -O3
#   dev      pure-Python core (DRAGONFLY_NO_EXTENSIONS=1): no C compiler used,
#            quickest build, readable tracebacks all the way down
#   debug    compiled core with -O0 -g and assertions (DRAGONFLY_DEBUG=1)
#
#   docker build -t dragonflybot .
#   docker build -t dragonflybot:dev --build-arg BUILD_PROFILE=dev .
#   docker run --rm -p 50051:50051 dragonflybot --instrument-name ethbtc --simulate
#   docker run --rm -p 50051:50051 dragonflybot:latest dragonflybot-grpc-server --instrument-name ethbtc
#   docker run --rm --net=host dragonflybot:latest dragonflybot-grpc-client
#
# The entrypoint (docker/entrypoint.sh) takes options alone as the gRPC server's, or a command name first.

ARG PYTHON_VERSION=3.11

# --------------------------------------------------------------------------- builder
FROM python:${PYTHON_VERSION}-slim-bookworm AS builder
ARG BUILD_PROFILE=release
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Dependency cache layer: built from pyproject.toml and the build constraints
# only, so it is reused until they change (source edits skip it).
COPY pyproject.toml constraints-build.txt ./
RUN --mount=type=cache,target=/root/.cache/pip \
    python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))' \
      > /tmp/build-requirements.txt \
 && pip install -c constraints-build.txt -r /tmp/build-requirements.txt wheel \
 && python -m venv /opt/dragonfly \
 && python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
      > /tmp/requirements.txt \
 && /opt/dragonfly/bin/pip install -r /tmp/requirements.txt

# The package itself.
COPY . .
RUN --mount=type=cache,target=/root/.cache/pip \
    set -eu; \
    case "$BUILD_PROFILE" in \
      release) export DRAGONFLY_NO_EXTENSIONS=0; expect=cython ;; \
      dev)     export DRAGONFLY_NO_EXTENSIONS=1; expect=python ;; \
      debug)   export DRAGONFLY_NO_EXTENSIONS=0 DRAGONFLY_DEBUG=1; expect=cython ;; \
      *) echo "BUILD_PROFILE must be release, dev or debug (got '$BUILD_PROFILE')" >&2; exit 1 ;; \
    esac; \
    pip wheel --no-deps --no-build-isolation -w /wheels . ; \
    /opt/dragonfly/bin/pip install --no-deps /wheels/dragonflybot-*.whl ; \
    cd / && got="$(/opt/dragonfly/bin/python -c 'import dragonfly; print(dragonfly.core_implementation())')"; \
    test "$got" = "$expect" || { echo "core is $got, expected $expect" >&2; exit 1; }; \
    for cmd in dragonfly-grpc-server dragonfly-grpc-client dragonfly-fix-server \
               dragonflybot-grpc-server dragonflybot-grpc-client; do \
      /opt/dragonfly/bin/$cmd --help > /dev/null; \
    done

# --------------------------------------------------------------------------- runtime
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ARG BUILD_PROFILE=release
LABEL org.opencontainers.image.title="dragonflybot" \
      org.opencontainers.image.description="Consolidated multi-venue order book over gRPC" \
      org.opencontainers.image.licenses="MIT"
ENV PATH=/opt/dragonfly/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DRAGONFLY_BUILD_PROFILE=${BUILD_PROFILE} \
    DRAGONFLY_GRPC_HOST=0.0.0.0

RUN groupadd --system --gid 10001 dragonfly \
 && useradd --system --uid 10001 --gid dragonfly --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin dragonfly

COPY --from=builder /opt/dragonfly /opt/dragonfly
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/dragonflybot-entrypoint

USER dragonfly:dragonfly
WORKDIR /tmp
EXPOSE 50051
# Standard gRPC health service on the same port (grpc.health.v1.Health/Check,
# no token needed): use your orchestrator's gRPC probe for readiness. The
# overall status ("") is NOT_SERVING while no venue is LIVE (a network outage),
# so a liveness probe should only check that the port answers.
# SIGTERM (docker stop) ends every stream cleanly and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["dragonflybot-entrypoint"]
CMD ["--help"]
