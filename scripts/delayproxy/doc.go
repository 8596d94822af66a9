// Command delayproxy is a reverse proxy that waits a fixed delay before it
// forwards each request: a registry on loopback then answers like one across
// the internet, where round trips, not bandwidth, decide how long a run of
// small requests takes. scripts/bench measures the small-artifact cases
// through it.
//
//	go run ./scripts/delayproxy -target http://127.0.0.1:5000 -delay 50ms
//
// It listens on -listen (default a free loopback port), prints the address
// it listens on as its first line of output, and serves until killed.
package main
