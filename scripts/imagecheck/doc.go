// Command imagecheck verifies what can be verified of ferry's container image
// without a container engine: the binary is static (no PT_INTERP program
// header, no DT_NEEDED entry) and stripped, and its size is reported; the
// Dockerfile copies only files that exist in the build context (and that
// .dockerignore does not exclude), pins its base images by tag, runs as a
// non-root user and has an entrypoint it copied in.
//
//	go run ./scripts/imagecheck -binary bin/ferry -dockerfile Dockerfile
package main
