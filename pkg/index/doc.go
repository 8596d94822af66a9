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
// The package does no I/O: callers fetch index files and tag lists themselves.
package index
