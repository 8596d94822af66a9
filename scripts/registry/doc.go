// Command registry is the OCI registry the demo, the end-to-end tests, the
// benchmarks and the soak run as a separate process: CNCF distribution's
// registry application (the version pinned in go.mod) with only the
// filesystem and in-memory storage drivers and htpasswd authentication.
// distribution's own cmd/registry links every cloud storage driver (Azure,
// GCS, S3 SDKs), which costs minutes to compile on a cold build cache and
// pulls those SDKs into the module graph; nothing here needs them.
//
//	go run ./scripts/registry serve config.yml
//
// The configuration file is distribution's (version 0.1). It logs with
// distribution's logger, one access-log line per request in the combined
// format unless log.accesslog.disabled is set, and logs
// `msg="listening on HOST:PORT"` once it accepts connections (http.addr may
// name port 0: the kernel picks one). It serves until SIGINT or SIGTERM.
// It is not part of the ferry binary.
package main
