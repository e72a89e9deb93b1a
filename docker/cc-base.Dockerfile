# syntax=docker/dockerfile:1
# A distroless/cc-like base made on this machine, for building the operator and services images
# without a registry (scripts/images.sh; never pushed): exactly the shared libraries the
# host-built binaries load (from ldd, plus the dynamic loader), /etc/passwd and /etc/group with
# root, nobody and nonroot (65532), /etc/nsswitch.conf and the CA bundle. No shell, no package
# manager. The build context is a staging dir scripts/images.sh fills (rootfs/, home-nonroot/).
FROM scratch
COPY rootfs/ /
COPY --chown=65532:65532 home-nonroot/ /home/nonroot/
# The image config of gcr.io/distroless/cc-debian13:nonroot.
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532
WORKDIR /home/nonroot
