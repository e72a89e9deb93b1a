#!/usr/bin/env bash
# Builds the project's container images on a machine that cannot reach any image registry, from
# the Dockerfiles in docker/ with local base images, and saves them for the node scripts (which
# import every *.tar in $KOINOS_IMAGES_DIR into the kubelet's containerd).
#
#   scripts/images.sh [build]   build what changed, save the images (the default)
#   scripts/images.sh test      run each image the way Kubernetes runs it (read-only, non-root)
#   scripts/images.sh sizes     image and tarball sizes
#
# Images and tarballs (${KOINOS_IMAGES_DIR:-~/.cache/koinos-images}):
#   ghcr.io/koinos-operator/koinos-operator:v0.1.0   operator.tar
#   ghcr.io/koinos-operator/koinos-services:v0.1.0   services.tar
#   localhost/koinos/rabbitmq:local                  rabbitmq.tar
#
# How: dockerd is started in the background (log in the work dir) when `docker info` fails. The
# binaries are built on the host (`cargo build --release`, incremental) and copied into small
# staging build contexts; the operator and services Dockerfiles take them with
# BINARIES=prebuilt (BuildKit then never reaches their rust builder stage) onto
# BASE_IMAGE=localhost/koinos/cc-base:bookworm, a distroless/cc-like base made from the host's
# copies of exactly the libraries the binaries load (docker/cc-base.Dockerfile). RabbitMQ is
# Debian's package (docker/rabbitmq.Dockerfile) on a `debootstrap --variant=minbase bookworm`
# base imported as localhost/koinos/debian:bookworm-minbase (the rootfs tarball is made once and
# cached; Debian's apt mirror must be reachable). Docker's build cache skips unchanged images;
# an image whose id did not change is not saved again.
#
# Environment: KOINOS_IMAGES_DIR (tarballs), KOINOS_IMAGES_WORK (staging contexts, rootfs
# tarball, logs; default ~/.cache/koinos-images/work), DOCKER (the CLI), DEBIAN_MIRROR.
set -euo pipefail
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${KOINOS_IMAGES_DIR:-$HOME/.cache/koinos-images}
WORK=${KOINOS_IMAGES_WORK:-$HOME/.cache/koinos-images/work}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

OPERATOR_IMAGE=ghcr.io/koinos-operator/koinos-operator:v0.1.0
SERVICES_IMAGE=ghcr.io/koinos-operator/koinos-services:v0.1.0
RABBITMQ_IMAGE=localhost/koinos/rabbitmq:local
CC_BASE=localhost/koinos/cc-base:bookworm
DEBIAN_BASE=localhost/koinos/debian:bookworm-minbase

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'images.sh: %s\n' "$*" >&2; exit 1; }

# A docker CLI that builds with BuildKit: with the buildx plugin, or Docker < 23, whose CLI
# uses the daemon's built-in BuildKit (DOCKER_BUILDKIT=1) without buildx.
pick_docker() {
    [[ -n ${DOCKER:-} ]] && return
    if docker buildx version >/dev/null 2>&1; then DOCKER=docker; return; fi
    local c major
    for c in docker /usr/bin/docker; do
        major=$("$c" --version 2>/dev/null | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p') || true
        if [[ -n $major && $major -lt 23 ]]; then DOCKER=$c; return; fi
    done
    die "no docker CLI that can build with BuildKit: install the buildx plugin (apt-get install docker-buildx) or Debian's docker.io"
}

ensure_daemon() {
    "$DOCKER" info >/dev/null 2>&1 && return
    [[ $(id -u) = 0 ]] || die "'docker info' fails and starting dockerd needs root"
    command -v dockerd >/dev/null || die "'docker info' fails and there is no dockerd"
    mkdir -p "$WORK/logs"
    log "starting dockerd in the background (log: $WORK/logs/dockerd.log)"
    # dockerd outlives this script, so it must not keep what the caller has open: an inherited
    # `flock` fd (the real-pods tier's lock) stayed locked for as long as dockerd ran.
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null
        done
        exec nohup setsid dockerd >>"$WORK/logs/dockerd.log" 2>&1 </dev/null
    ) &
    local _
    for _ in $(seq 60); do
        "$DOCKER" info >/dev/null 2>&1 && return
        sleep 1
    done
    die "dockerd did not come up; see $WORK/logs/dockerd.log"
}

# build_image NAME DOCKERFILE CONTEXT TAG [docker build args...]
build_image() {
    local name=$1 dockerfile=$2 context=$3 tag=$4 t0=$SECONDS df
    shift 4
    # `# syntax=docker/dockerfile:1` makes BuildKit pull that frontend image; without a registry
    # the daemon's built-in frontend parses the same file (nothing here needs a newer one).
    df=$WORK/dockerfiles/$(basename "$dockerfile")
    mkdir -p "$WORK/dockerfiles" "$WORK/logs"
    if "$DOCKER" image inspect docker/dockerfile:1 >/dev/null 2>&1; then
        cp "$dockerfile" "$df"
    else
        sed '/^# *syntax=/d' "$dockerfile" >"$df"
    fi
    log "building $tag (log: $WORK/logs/$name.log)"
    if ! DOCKER_BUILDKIT=1 nice -n 10 "$DOCKER" build --progress=plain -f "$df" -t "$tag" "$@" "$context" \
        >"$WORK/logs/$name.log" 2>&1; then
        tail -n 40 "$WORK/logs/$name.log" >&2
        die "building $tag failed"
    fi
    log "$tag: $((SECONDS - t0))s"
}

# The release binaries: prints "operator|services <path>" lines for the binaries of each package.
build_binaries() {
    command -v jq >/dev/null || die "jq is needed (apt-get install jq)"
    local t0=$SECONDS
    log "cargo build --release -p koinos-operator -p koinos-services --bins"
    (cd "$ROOT" && nice -n 10 cargo build --release --locked -p koinos-operator -p koinos-services --bins \
        --message-format=json-render-diagnostics) >"$WORK/cargo-artifacts.json"
    jq -r --arg root "$ROOT" '
        select(.reason == "compiler-artifact" and .executable != null)
        | (if .manifest_path == ($root + "/operator/Cargo.toml") then "operator"
           elif .manifest_path == ($root + "/services/Cargo.toml") then "services" else empty end)
          + " " + .executable' "$WORK/cargo-artifacts.json"
    log "binaries: $((SECONDS - t0))s"
}

# copy_into PATH ROOTFS: the file at PATH, and every symlink on the way to it, into ROOTFS.
copy_into() {
    local p=$1 r=$2 dir target
    dir=$(readlink -f "$(dirname "$p")")
    p=$dir/$(basename "$p")
    [[ -e $r$p || -L $r$p ]] && return 0
    mkdir -p "$r$dir"
    cp -a "$p" "$r$p"
    if [[ -L $p ]]; then
        target=$(readlink "$p")
        [[ $target = /* ]] || target=$dir/$target
        copy_into "$target" "$r"
    fi
}

# The cc-base context: the shared libraries the binaries load (ldd, with the loader), users,
# nsswitch.conf and the CA bundle.
stage_cc_base() {
    local ctx=$WORK/ctx/cc-base r lib d
    r=$ctx/rootfs
    rm -rf "$ctx"
    mkdir -p "$r/etc/ssl/certs" "$r/tmp" "$r/root" "$ctx/home-nonroot"
    chmod 1777 "$r/tmp"
    chmod 0700 "$r/root"
    # merged /usr: /lib, /lib64, ... are symlinks on the host and in the image
    for d in bin sbin lib lib32 lib64 libx32; do
        [[ -L /$d ]] && ln -s "$(readlink "/$d")" "$r/$d"
    done
    for lib in $(ldd "$@" | awk '
            /:$/ { next }
            /not found/ { print "MISSING:" $1; next }
            $2 == "=>" && $3 ~ /^\// { print $3; next }
            $1 ~ /^\// { print $1 }' | sort -u); do
        [[ $lib = MISSING:* ]] && die "a binary needs ${lib#MISSING:}, which this host does not have"
        copy_into "$lib" "$r"
    done
    cat >"$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
    cat >"$r/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
EOF
    printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n' \
        >"$r/etc/nsswitch.conf"
    cp -L /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/ca-certificates.crt"
    [[ -f /usr/lib/os-release ]] && copy_into /usr/lib/os-release "$r" && ln -s ../usr/lib/os-release "$r/etc/os-release"
    echo "$ctx"
}

# localhost/koinos/debian:bookworm-minbase from a debootstrap rootfs, slimmed like
# debian:bookworm-slim; the tarball is made once (delete it and the image to refresh).
ensure_debian_base() {
    local tgz=$WORK/debian-bookworm-minbase.tgz r=$WORK/debian-rootfs t0=$SECONDS
    if "$DOCKER" image inspect "$DEBIAN_BASE" >/dev/null 2>&1 && [[ -s $tgz ]]; then return; fi
    if [[ ! -s $tgz ]]; then
        command -v debootstrap >/dev/null || die "debootstrap is needed (apt-get install debootstrap)"
        log "debootstrap --variant=minbase bookworm (once; log: $WORK/logs/debootstrap.log)"
        rm -rf "$r"
        debootstrap --variant=minbase bookworm "$r" "$DEBIAN_MIRROR" >"$WORK/logs/debootstrap.log" 2>&1 ||
            die "debootstrap failed; see $WORK/logs/debootstrap.log"
        cat >"$r/etc/apt/sources.list" <<EOF
deb $DEBIAN_MIRROR bookworm main
deb $DEBIAN_MIRROR bookworm-updates main
deb ${DEBIAN_MIRROR%/debian}/debian-security bookworm-security main
EOF
        # as debian:*-slim: no documentation, manuals or translations, now or from later installs
        cat >"$r/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
        find "$r/usr/share/doc" -mindepth 1 -not -type d -not -name copyright -delete
        find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
        rm -rf "$r"/usr/share/{man,info,locale,lintian,groff}/* "$r"/var/cache/apt/archives/*.deb \
            "$r"/var/lib/apt/lists/* "$r"/var/log/bootstrap.log "$r"/dev/* "$r"/debootstrap
        tar --numeric-owner -C "$r" -czf "$tgz.partial" . && mv "$tgz.partial" "$tgz"
        rm -rf "$r"
    fi
    log "importing $DEBIAN_BASE"
    "$DOCKER" import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' "$tgz" "$DEBIAN_BASE" >/dev/null
    log "$DEBIAN_BASE: $((SECONDS - t0))s"
}

# save_image REF NAME: $OUT/NAME.tar, unless it already holds this image id.
save_image() {
    local ref=$1 file=$OUT/$2.tar stamp=$WORK/saved/$2.id id t0=$SECONDS
    mkdir -p "$OUT" "$WORK/saved"
    id=$("$DOCKER" image inspect -f '{{.Id}}' "$ref")
    if [[ -s $file && -f $stamp && $(<"$stamp") == "$id" ]]; then
        chmod 0644 "$file"
        log "$file: up to date"
        return
    fi
    # not *.tar until complete: the node scripts import every *.tar in $OUT
    "$DOCKER" save -o "$file.partial" "$ref"
    chmod 0644 "$file.partial"
    mv "$file.partial" "$file"
    echo "$id" >"$stamp"
    log "saved $file ($((SECONDS - t0))s)"
}

cmd_build() {
    local t0=$SECONDS kind path ctx operator_bins=() services_bins=()
    mkdir -p "$WORK/logs" "$OUT"
    pick_docker
    ensure_daemon
    while read -r kind path; do
        case $kind in
            operator) operator_bins+=("$path") ;;
            services) services_bins+=("$path") ;;
        esac
    done < <(build_binaries)
    [[ ${#operator_bins[@]} -gt 0 && ${#services_bins[@]} -gt 0 ]] || die "cargo reported no binaries"

    ctx=$(stage_cc_base "${operator_bins[@]}" "${services_bins[@]}")
    build_image cc-base "$ROOT/docker/cc-base.Dockerfile" "$ctx" "$CC_BASE"

    ctx=$WORK/ctx/operator
    rm -rf "$ctx" && mkdir -p "$ctx/bin"
    cp -p "${operator_bins[@]}" "$ctx/bin/"
    build_image operator "$ROOT/docker/operator.Dockerfile" "$ctx" "$OPERATOR_IMAGE" \
        --build-arg BINARIES=prebuilt --build-arg BASE_IMAGE="$CC_BASE"

    ctx=$WORK/ctx/services
    rm -rf "$ctx" && mkdir -p "$ctx/bin" "$ctx/koinos"
    cp -p "${services_bins[@]}" "$ctx/bin/"
    build_image services "$ROOT/docker/services.Dockerfile" "$ctx" "$SERVICES_IMAGE" \
        --build-arg BINARIES=prebuilt --build-arg BASE_IMAGE="$CC_BASE"

    ensure_debian_base
    ctx=$WORK/ctx/rabbitmq
    rm -rf "$ctx" && mkdir -p "$ctx"
    build_image rabbitmq "$ROOT/docker/rabbitmq.Dockerfile" "$ctx" "$RABBITMQ_IMAGE" \
        --build-arg BASE_IMAGE="$DEBIAN_BASE"

    save_image "$OPERATOR_IMAGE" operator
    save_image "$SERVICES_IMAGE" services
    save_image "$RABBITMQ_IMAGE" rabbitmq
    log "build: $((SECONDS - t0))s"
    cmd_sizes
}

cmd_sizes() {
    pick_docker
    local ref
    printf '%-50s %10s\n' IMAGE SIZE
    for ref in "$OPERATOR_IMAGE" "$SERVICES_IMAGE" "$RABBITMQ_IMAGE" "$CC_BASE" "$DEBIAN_BASE"; do
        printf '%-50s %10s\n' "$ref" \
            "$("$DOCKER" image inspect -f '{{.Size}}' "$ref" 2>/dev/null | numfmt --to=si --suffix=B || echo -)"
    done
    ls -l --block-size=M "$OUT"/*.tar 2>/dev/null || true
}

# A minimal AMQP 0-9-1 client: handshake with PLAIN credentials, open the vhost, close.
amqp_check() {
    python3 - "$@" <<'EOF'
import socket, struct, sys
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.create_connection((host, port), timeout=10)
def shortstr(v): v = v.encode(); return bytes([len(v)]) + v
def longstr(v): return struct.pack(">I", len(v)) + v
def send(cls, meth, args):
    payload = struct.pack(">HH", cls, meth) + args
    s.sendall(struct.pack(">BHI", 1, 0, len(payload)) + payload + b"\xce")
def recv_exact(n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk: sys.exit(f"connection closed by the server (after {b!r})")
        b += chunk
    return b
def recv():
    typ, ch, size = struct.unpack(">BHI", recv_exact(7))
    payload = recv_exact(size); recv_exact(1)
    cls, meth = struct.unpack(">HH", payload[:4])
    if (cls, meth) == (10, 50):
        code, = struct.unpack(">H", payload[4:6])
        sys.exit(f"server closed the connection: {code} {payload[7:7+payload[6]].decode()}")
    return (cls, meth), payload[4:]
s.sendall(b"AMQP\x00\x00\x09\x01")
m, _ = recv(); assert m == (10, 10), m                      # Connection.Start
send(10, 11, struct.pack(">I", 0) + shortstr("PLAIN")
     + longstr(f"\0{user}\0{password}".encode()) + shortstr("en_US"))
m, a = recv(); assert m == (10, 30), m                      # Connection.Tune
send(10, 31, a[:8])
send(10, 40, shortstr("/") + shortstr("") + b"\x00")       # Connection.Open
m, _ = recv(); assert m == (10, 41), m                      # Connection.OpenOk
send(10, 50, struct.pack(">H", 200) + shortstr("bye") + struct.pack(">HH", 0, 0))
m, _ = recv(); assert m == (10, 51), m                      # Connection.CloseOk
print(f"AMQP: connected to {host}:{port} as {user}, opened vhost /")
EOF
}

cmd_test() {
    pick_docker
    ensure_daemon
    local bin t=$WORK/test name=koinos-images-test-rabbitmq volume=koinos-images-test-rabbitmq
    local host=rabbit-0.rabbitmq.test amqp_port=${TEST_AMQP_PORT:-35672} metrics_port=${TEST_METRICS_PORT:-35692}
    log "operator: --help (read-only root, uid 65532)"
    "$DOCKER" run --rm --read-only --user 65532:65532 --cap-drop ALL "$OPERATOR_IMAGE" --help | head -n 5
    log "services: every binary --help (read-only root, uid 65532)"
    local bins=(koinos-chain)
    [[ -d $WORK/ctx/services/bin ]] && mapfile -t bins < <(ls "$WORK/ctx/services/bin")
    for bin in "${bins[@]}"; do
        "$DOCKER" run --rm --read-only --user 65532:65532 --cap-drop ALL "$SERVICES_IMAGE" "$bin" --help >/dev/null ||
            die "$bin --help failed"
        echo "  $bin --help: ok"
    done
    "$DOCKER" run --rm --read-only --user 65532:65532 --cap-drop ALL "$SERVICES_IMAGE" koinos-chain --help | head -n 5

    log "rabbitmq: the operator's init container, then the server (read-only root, uid 999)"
    # conf.d laid out as the operator's projected volume: the ConfigMap's 10-koinos.conf (as
    # render_rabbitmq_conf writes it for one replica) and the Secret's 20-credentials.conf, as
    # symlinks into ..data, mode 0440, group 999 (the pod's fsGroup)
    local data=$t/conf.d/..2026_01_01_00_00_00.000000000
    rm -rf "$t" && mkdir -p "$data" "$t/cookie"
    cat >"$data/10-koinos.conf" <<EOF
listeners.tcp.default = 5672
max_message_size = 536870912
prometheus.tcp.port = 15692
cluster_formation.peer_discovery_backend = classic_config
cluster_formation.classic_config.nodes.1 = rabbit@$host
EOF
    printf 'default_user = koinos\ndefault_pass = koinos-images-test\n' >"$data/20-credentials.conf"
    ln -s "$(basename "$data")" "$t/conf.d/..data"
    ln -s ..data/10-koinos.conf "$t/conf.d/10-koinos.conf"
    ln -s ..data/20-credentials.conf "$t/conf.d/20-credentials.conf"
    head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$t/cookie/.erlang.cookie"
    chgrp 999 "$data"/*.conf "$t/cookie/.erlang.cookie"
    chmod 0440 "$data"/*.conf "$t/cookie/.erlang.cookie"
    "$DOCKER" rm -f "$name" >/dev/null 2>&1 || true
    "$DOCKER" volume rm -f "$volume" >/dev/null 2>&1 || true
    local common=(--read-only --user 999:999 --cap-drop ALL --security-opt no-new-privileges
        --tmpfs /tmp:rw,mode=1777 -v "$volume:/var/lib/rabbitmq")
    # The operator's init container script, twice: a restart finds last run's 0400 cookie.
    local init="rm -f /var/lib/rabbitmq/.erlang.cookie && cp /cookie/.erlang.cookie /var/lib/rabbitmq/.erlang.cookie && chmod 0400 /var/lib/rabbitmq/.erlang.cookie"
    "$DOCKER" run --rm "${common[@]}" -v "$t/cookie:/cookie:ro" "$RABBITMQ_IMAGE" sh -c "$init"
    "$DOCKER" run --rm "${common[@]}" -v "$t/cookie:/cookie:ro" "$RABBITMQ_IMAGE" sh -c "$init"
    echo "  init container (twice, as on a restart): ok"
    "$DOCKER" run -d --name "$name" "${common[@]}" --hostname "$host" \
        -e RABBITMQ_USE_LONGNAME=true -e RABBITMQ_NODENAME="rabbit@$host" \
        -e RABBITMQ_CONFIG_FILES=/etc/rabbitmq/conf.d -e RABBITMQ_LOGS=- \
        -v "$t/conf.d:/etc/rabbitmq/conf.d:ro" \
        -p "127.0.0.1:$amqp_port:5672" -p "127.0.0.1:$metrics_port:15692" "$RABBITMQ_IMAGE" >/dev/null
    local ok=
    for _ in $(seq 90); do
        if "$DOCKER" exec "$name" rabbitmq-diagnostics -q check_port_connectivity >/dev/null 2>&1; then ok=1; break; fi
        "$DOCKER" inspect -f '{{.State.Running}}' "$name" | grep -q true || break
        sleep 1
    done
    if [[ -z $ok ]]; then
        "$DOCKER" logs --tail 40 "$name" >&2
        die "rabbitmq did not come up"
    fi
    "$DOCKER" exec "$name" rabbitmq-diagnostics -q ping
    "$DOCKER" exec "$name" rabbitmqctl -q version | sed 's/^/  rabbitmq /'
    amqp_check 127.0.0.1 "$amqp_port" koinos koinos-images-test
    if amqp_check 127.0.0.1 "$amqp_port" koinos wrong-password 2>/dev/null; then
        die "rabbitmq accepted a wrong password"
    fi
    echo "AMQP: a wrong password is refused"
    curl -fsS "http://127.0.0.1:$metrics_port/metrics" | grep -m 1 '^rabbitmq_' | sed 's/^/  metrics: /'
    "$DOCKER" logs "$name" 2>&1 | grep -E '\[(error|warning)\]|config file\(s\)' | sed 's/^/  log: /' || true
    "$DOCKER" rm -f "$name" >/dev/null
    "$DOCKER" volume rm -f "$volume" >/dev/null
    log "all images run"
}

case ${1:-build} in
    build) cmd_build ;;
    test) cmd_test ;;
    sizes) cmd_sizes ;;
    *) die "usage: $0 [build|test|sizes]" ;;
esac
