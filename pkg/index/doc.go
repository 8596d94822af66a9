// Package index reads artifact indexes and the references users type to name
// artifacts in them.
//
// An index is a YAML list of entries in falcoctl's format, with ferry's optional
// source and mirrors fields on top; [Parse] reads one and reports problems with
// their line numbers. A [Set] keeps several indexes side by side: every entry stays
// addressable as INDEX/NAME, and a name found in more than one index is reported
// as ambiguous rather than silently resolved.
//
// [ParseReference] splits what a user typed (NAME, INDEX/NAME:CONSTRAINT,
// NAME@sha256:..., HOST/REPO:TAG, oci-layout:PATH) into its parts, and
// [ParseConstraint] with [Constraint.Resolve] picks the highest registry tag that
// satisfies a semver constraint.
//
// Callers fetch index files and tag lists themselves. The one file the
// package reads and writes is the compact form of a cached index:
// [LoadCached] reads an index cached as YAML through a compact binary file
// beside it (written once, rebuilt when missing, stale or corrupt), so that
// a command looking up one name of a big index reads a few kilobytes and a
// listing ([Set.Listing]) streams the records instead of parsing the YAML.
package index
