// Package events reports what ferry did as CDEvents (spec 0.5.1, or 0.4.1 on
// request) carried over the CloudEvents HTTP binding: artifact.downloaded for
// every artifact an install actually downloaded, artifact.published for every
// push. Events are built with github.com/cdevents/sdk-go, validated with
// api.Validate, and sent with github.com/cloudevents/sdk-go/v2.
//
// It never prints and never fails the operation it reports on: an
// unreachable sink costs at most Config.Timeout once per Emitter and yields
// one warning string, returned to the caller; the event is kept in a spool
// and sent again later. Errors are returned only for an event that cannot be
// built (a bug, or an Artifact missing its digest).
//
// # Events
//
//	subject.id            PURL(a): pkg:oci/NAME@DIGEST?arch=ARCH&repository_url=HOST%2FREPO&tag=TAG
//	subject.content.user  the registry account used, else Config.User (default: the local user)
//	context.source        Config.Source (default /ferry/<hostname>)
//	customData            application/json: index, name, version, constraint, ref,
//	                      registry, repository, tag, digest, servedBy, path, platform,
//	                      bytes, durationMs
//
// The CloudEvent has the CDEvent's id, source and type, subject = subject.id,
// time = context.timestamp (set explicitly, so the HTTP client never stamps
// the send time), datacontenttype application/json and the whole CDEvent as
// data. Structured mode (application/cloudevents+json) is the default;
// Sink.Binary selects binary mode (ce-* headers, the CDEvent as body).
//
// # Delivery
//
// Each event goes to every sink, sinks in parallel. One delivery is up to
// three HTTP attempts (retrying transport errors, 408, 425, 429 and 5xx,
// 100 ms then 200 ms apart) within Config.Timeout. A 2xx is an
// acknowledgement. A sink that fails (no answer, a transport error, a
// retryable status after the last attempt, 401, 403, 404 or 405) is marked
// down for the rest of the Emitter's life: the event and every later one
// for that sink go straight to the spool, and the caller gets one warning.
// Any other 4xx rejects that one event: it is spooled with the answer in
// lastError (and a warning), and the sink stays up.
//
// Before its first new event to a sink, an Emitter sends that sink's spool
// backlog, oldest first, so a receiver sees events in the order they
// happened. Config.File, when set, gets every event as one JSON line (the
// structured CloudEvent) before delivery: opened with O_APPEND and written
// with a single write, so concurrent processes never interleave lines.
//
// # Spool
//
//	<SpoolDir>/                       <state-dir>/events/spool/ in ferry's CLI
//	    <unixnano>-<sink key>-<id>.json   one event for one sink (mode 0600)
//	    .lock-<sink key>                 flock(2) held while that sink's entries are sent
//	    .tmp-*                           a spool file being written (normally absent)
//
// The name starts with the event's time (20 digits, nanoseconds since the
// epoch), so names sort oldest first; the sink key is the first 12 hex
// digits of the SHA-256 of the sink URL. A file is written to a temporary
// name, fsync'd, renamed into place and the directory fsync'd, so a reader
// sees complete entries only. An entry holds the sink URL, the transfer
// mode, the sink's header templates (never their expanded values), the
// attempts so far and the last error, and the CloudEvent as JSON.
//
// Flush sends entries oldest first per sink, holding the sink's flock so
// that concurrent ferry processes never send one entry twice, and deletes
// an entry only after the receiver answered 2xx: each entry reaches each
// sink exactly once as far as the receiver acknowledged it (a crash between
// the acknowledgement and the delete sends it again; receivers deduplicate
// on source + id as CloudEvents prescribes).
//
// # Headers
//
// Sink.Headers values may reference environment variables as ${NAME}
// (only that form; a lone $ is kept), e.g. Authorization: "Bearer ${TOKEN}".
// They are expanded with Config.Getenv for every request; New fails when a
// referenced variable is empty, so a token is never sent half-formed. Spool
// entries keep the templates, and Flush uses the configured sink's headers
// when its URL matches, else the entry's templates.
package events
