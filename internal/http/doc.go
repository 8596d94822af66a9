// Package http builds the one HTTP client ferry uses for registries, index
// downloads and mirrors: proxies from the environment, custom CAs, per-host
// TLS settings, timeouts, a user agent, and retries on 429 and 5xx answers.
package http
