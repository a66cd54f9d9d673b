#!/bin/sh
# Entrypoint of the dragonflybot image: which command a `docker run` means.
#
#   docker run -p 50051:50051 dragonflybot --instrument-name ethbtc
#   docker run -p 50051:50051 dragonflybot:latest dragonflybot-grpc-server --instrument-name ethbtc
#       the gRPC server (options alone mean the server; the founding document's long form names it)
#   docker run --net=host dragonflybot:latest dragonflybot-grpc-client
#       the live client (default address 127.0.0.1:50051)
#   docker run dragonflybot dragonfly-fix-server ... | dragonfly demo | fix-server ...
#       any dragonfly command, by its console-script name or as a `dragonfly` subcommand
#   docker run dragonflybot
#       the server's --help
#
# Any other first word is run as a program if the image has it (sh, python: for debugging);
# otherwise the script says which commands exist and exits 2. Tested without a Docker engine by
# tests/e2e/test_docker_entrypoint.py, which runs this file directly.
set -eu

COMMANDS="dragonflybot-grpc-server dragonflybot-grpc-client dragonfly-grpc-server dragonfly-grpc-client \
dragonfly-fix-server dragonfly"

if [ "${1:-}" = "dragonflybot" ]; then  # `docker run dragonflybot dragonflybot --instrument-name ...`
    shift
fi

case "${1:-}" in
    "")
        set -- dragonflybot-grpc-server --help ;;
    -*)
        set -- dragonflybot-grpc-server "$@" ;;
    dragonflybot-grpc-server | dragonflybot-grpc-client | dragonfly-grpc-server | dragonfly-grpc-client | \
    dragonfly-fix-server | dragonfly)
        ;;
    demo | grpc-server | grpc-client | fix-server)
        set -- dragonfly "$@" ;;
    *)
        if ! command -v "$1" > /dev/null 2>&1; then
            echo "dragonflybot: unknown command '$1'; use one of: $COMMANDS" >&2
            echo "  (or options alone for the gRPC server, e.g. --instrument-name ethbtc)" >&2
            exit 2
        fi ;;
esac
exec "$@"
