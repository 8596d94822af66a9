// Command imagecheck verifies what can be verified of ferry's container image
// without a container engine: the binary is static (no PT_INTERP program
// header, no DT_NEEDED entry) and stripped, and its size is reported; the
// Dockerfile copies only files that exist in the build context (and that
// .dockerignore does not exclude), pins its base images by tag, runs as a
// non-root user and has an entrypoint it copied in.
//
// It also interprets the Dockerfile's image stages (ferry, and falcoctl
// built on it): each RUN command (apk add, addgroup, adduser, mkdir, chown,
// ln; anything else is an error, so the model cannot drift silently), COPY,
// ENV, LABEL, USER, ENTRYPOINT and CMD, on a model of the part of alpine:3.22
// the image relies on, and compares the resulting layout (every path with
// its type, mode and owner; /etc/passwd and /etc/group; the configuration)
// with the offline build's. With -rootfs DIR it then writes that offline
// build: DIR/rootfs.tar (from the binary, the facade, a static busybox and
// the CA bundle; reproducible) and DIR/ferry.changes, DIR/falcoctl.changes
// (the configuration as `podman import --change` lines). scripts/image
// imports them.
//
//	go run ./scripts/imagecheck -binary bin/ferry -dockerfile Dockerfile
//	go run ./scripts/imagecheck -binary bin/ferry -rootfs bin/image
package main
