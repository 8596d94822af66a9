// Package oci reads and writes Falco artifacts in OCI registries with
// oras-go v2: tag listing, manifest and image-index resolution with platform
// selection, digest-verified blob streams, and pushes in falcoctl's format
// (one config blob and one tar.gz layer per manifest, plugins wrapped in an
// image index).
package oci
