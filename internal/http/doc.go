// Package http builds the one HTTP client ferry uses for registries, index
// downloads and mirrors: proxies from the environment, custom CAs, per-host
// TLS settings, timeouts, a user agent, and retries on 429 and 5xx answers.
// It also holds the plain-HTTP downloader (Download, DownloadFile): a GET
// streamed into a writer or atomically into a file, with a size limit, a
// digest checked while streaming, and errors that tell a missing file
// (ErrNotFound) from a refused one (ErrUnauthorized), a failing server
// (ErrServer) and a failing network (ErrNetwork).
package http
