// Package mirror is the client of an HTTP mirror: a plain web server that
// serves artifact files named by a URL template, as download.falco.org does.
// It lists the versions a mirror directory has, from its SHA256SUMS file or
// else its HTML directory index (nginx or Apache autoindex, python -m
// http.server), and reads a file's .sha256 sidecar. Which files to fetch,
// and what to do with them, is pkg/install's business.
package mirror
