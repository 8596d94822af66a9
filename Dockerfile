# syntax=docker/dockerfile:1
# ferry's image: the static binary (CGO_ENABLED=0, -trimpath, stripped) on
# Alpine, which brings CA certificates and the /bin/sh that the legacy
# falco-driver-loader facade needs (distroless static has no shell). It runs
# as an unprivileged user (65532) by default, with Falco's default directories
# writable by it, and works with a read-only root file system:
#   docker run IMAGE artifact install falco-rules:3
# Installing a kernel driver needs root and the host's file system:
#   docker run --rm --user 0 --privileged -v /:/host:rw -e HOST_ROOT=/host \
#     --entrypoint falco-driver-loader IMAGE kmod
# /usr/bin/falcoctl is ferry under falcoctl's name (falcoctl mode). The stage
# `falcoctl` is the same image with it as the entrypoint, for Falco's Helm
# chart, which passes falcoctl's arguments only:
#   docker build --target falcoctl -t ferry:VERSION-falcoctl .
# `make image-check` verifies what can be verified without a container engine;
# `make image` builds the same image offline (scripts/image), and image-check
# compares the two layouts file by file.

FROM golang:1.26.8-alpine AS build
WORKDIR /src
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/root/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/ferryhq/ferry/internal/cli.Version=${VERSION}" \
      -o /out/ferry ./cmd/ferry

FROM alpine:3.22 AS ferry
LABEL org.opencontainers.image.title="ferry" \
      org.opencontainers.image.description="Install and publish Falco artifacts and drivers" \
      org.opencontainers.image.source="https://github.com/ferryhq/ferry"
RUN apk add --no-cache ca-certificates \
 && addgroup -S -g 65532 ferry \
 && adduser -S -D -u 65532 -G ferry -h /home/ferry ferry \
 && mkdir -p /etc/falco/assets /usr/share/falco/plugins /var/lib/ferry \
 && chown -R 65532:65532 /etc/falco /usr/share/falco /var/lib/ferry \
 && ln -s ferry /usr/bin/falcoctl
COPY --from=build /out/ferry /usr/bin/ferry
COPY --chmod=0755 scripts/falco-driver-loader /usr/bin/falco-driver-loader
ENV HOME=/home/ferry
USER 65532:65532
ENTRYPOINT ["/usr/bin/ferry"]
CMD ["--help"]

FROM ferry AS falcoctl
ENTRYPOINT ["/usr/bin/falcoctl"]

# The default target: ferry's image.
FROM ferry
