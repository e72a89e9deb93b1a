# syntax=docker/dockerfile:1
# A RabbitMQ image from Debian's rabbitmq-server package, for clusters that cannot pull
# docker.io/library/rabbitmq (the operator's default broker image). It behaves like the official
# image as the operator runs it: uid/gid 999 named rabbitmq, HOME and data in /var/lib/rabbitmq,
# rabbitmq_prometheus enabled, logs to stdout, config from /etc/rabbitmq/conf.d, `rabbitmq-server`
# in the foreground as the default command, and nothing written outside /var/lib/rabbitmq and
# /tmp (works with a read-only root filesystem).
#   docker build -f docker/rabbitmq.Dockerfile -t localhost/koinos/rabbitmq:local docker
# scripts/images.sh builds it on a local debootstrap base: --build-arg BASE_IMAGE=...
# Debian bookworm ships RabbitMQ 3.10 (the official image the operator defaults to is 4.1).

ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim
FROM ${BASE_IMAGE}

# The user first, with the official image's ids, so the package's postinst keeps it. The
# policy-rc.d stops the postinst from starting a server during the build.
RUN set -eux; \
    groupadd --system --gid 999 rabbitmq; \
    useradd --system --uid 999 --gid 999 --home-dir /var/lib/rabbitmq --no-create-home \
        --shell /bin/sh --comment "RabbitMQ messaging server" rabbitmq; \
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 0755 /usr/sbin/policy-rc.d; \
    apt-get update; \
    apt-get install -y --no-install-recommends rabbitmq-server; \
    rm -f /usr/sbin/policy-rc.d; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log /var/cache/debconf/*-old; \
    # the postinst generated a cookie into the image; the operator's init container writes the
    # cluster's own into the data volume
    rm -f /var/lib/rabbitmq/.erlang.cookie; \
    # /usr/sbin/rabbitmq-* are wrappers that cd to /var/lib/rabbitmq, `su` when root and send
    # the server's output to /var/log/rabbitmq/startup_log (read-only in Kubernetes); the real
    # scripts are in /usr/lib/rabbitmq/bin, first on PATH below
    /usr/lib/rabbitmq/bin/rabbitmq-plugins enable --offline rabbitmq_prometheus; \
    mkdir -p /etc/rabbitmq/conf.d; \
    chown -R rabbitmq:rabbitmq /etc/rabbitmq /var/lib/rabbitmq /var/log/rabbitmq; \
    /usr/lib/rabbitmq/bin/rabbitmqctl version

# RabbitMQ 3.10 also logs upgrades to /var/log/rabbitmq/<node>_upgrade.log and stops on a
# read-only root unless RABBITMQ_UPGRADE_LOG is "-" (stdout); the Erlang crash dump goes to the
# data volume instead of /var/log/rabbitmq.
ENV PATH=/usr/lib/rabbitmq/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/var/lib/rabbitmq \
    LANG=C.UTF-8 \
    RABBITMQ_CONFIG_FILES=/etc/rabbitmq/conf.d \
    RABBITMQ_LOGS=- \
    RABBITMQ_UPGRADE_LOG=- \
    ERL_CRASH_DUMP=/var/lib/rabbitmq/erl_crash.dump
WORKDIR /var/lib/rabbitmq
USER 999:999
# AMQP, Prometheus metrics, epmd, Erlang distribution
EXPOSE 5672 15692 4369 25672
CMD ["rabbitmq-server"]
