// Package e2e drives the built ferry binary like a user: against a registry
// process (distribution v3) and, where faults are injected or requests
// counted, against an in-process registry. It checks stdout, stderr, exit
// codes and the files on disk.
package e2e
