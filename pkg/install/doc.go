// Package install turns references into installed artifacts: an Installer
// plans (resolves references against the indexes, picks versions with the
// solver, checks requirements and dependencies), fetches every layer from
// the channels that serve it (registries, their mirrors, HTTP mirrors, an
// OCI layout or a bundle) through digest verification, unpacks each safely
// into a staging directory beside its destination, and swaps the whole set
// in with one journaled commit. A Store records what is installed, so that
// an upgrade removes what the new version no longer ships and an
// interrupted run is repaired by the next one. Follow repeats an install on
// a schedule. An Installer holds what every install shares (resolver,
// store, directories, the SignaturePolicy it enforces) and is never
// modified: each call's references, engine versions (ReadEngine), dry run
// and lock file come in a Request. The package never prints or logs:
// progress and events go through callbacks the caller sets.
//
// # Files, by concern
//
// The store, which knows nothing of registries or indexes (a Record keeps
// the oci.Config it was installed with, nothing more):
//
//	store.go       Store: Install, Commit, CommitAll, Remove; commit planning
//	staging.go     Staging: the private directory an artifact is unpacked in
//	txn.go         the journal: written, validated, applied (renames, removals)
//	recover.go     Recover: journals rolled forward, leftovers deleted
//	state.go       State and Record (state.json), and their checks
//	lock.go        Lock: the state directory's flock
//	unpack.go      Unpack and Limits: a tar.gz stream written safely
//	errors.go      the store's sentinels and UnsafeArchiveError
//
// Planning, from references to a Plan:
//
//	plan.go        Planner, Plan, PlanItem: references, dependencies, pins
//	solve.go       Solve: the version solver over a Catalog
//	resolve.go     Resolver: a reference to an OCI artifact over its channels
//	channels.go    Channel: a registry, its mirrors, an HTTP mirror template
//	requirements.go Engine: the engine versions requirements are checked against
//	layoutref.go   an OCI layout (a bundle) as a channel
//	lockfile.go    LockFile (ferry.lock): the format, read and written
//	lockplan.go    a Plan locked, and a LockFile planned
//	httpmirror.go  HTTP mirrors in a plan: listed versions, digests known ahead
//
// Installing a Plan:
//
//	installer.go   Installer: prepare, fetch, verify, commit through the Store
//	prefetch.go    layers fetched while the plan is still being made
//	slots.go       download slots shared by large and small layers
//	progress.go    Progress and Tracker callbacks
//	httpfetch.go   an HTTP-mirror-only item downloaded, verified, unpacked
//	pull.go        Resolver.Pull: one artifact's layer to a file, no store
//	bundle.go      Planner.Bundle: a Plan as an offline OCI layout
//	mirror.go      Planner.Mirror: a Plan as files for an HTTP mirror
//
// Repeating an install:
//
//	follow.go      Follower: an install on a Schedule, with checks
//	cron.go        Cron: a cron expression as a Schedule
//
// The HTTP mirror client itself (listing SHA256SUMS and directory
// indexes, sidecars) is internal/http/mirror; atomic file writes are
// internal/fsutil.
//
// # On-disk layout
//
//	<stateDir>/                    default /var/lib/ferry
//	    .lock                      flock(2) held by Lock for a whole operation
//	    state.json                 State: one Record per installed artifact
//	    journal/<id>.json          a commit in progress (normally absent)
//	<destDir>/                     e.g. /etc/falco, /usr/share/falco/plugins
//	    falco_rules.yaml ...       installed files, owned by one record each
//	    .ferry-staging/<id>/...    an artifact being unpacked (normally absent)
//
// ferry.lock is not used here: that name belongs to the lock file of
// resolved versions. A file is owned by at most one record; installing an
// artifact that ships a path another record owns takes the path over.
// Directories are listed in records too (with fs.ModeDir) and removed only
// when empty. Files that no record lists are never touched.
//
// # Crash safety
//
// Install unpacks into <destDir>/.ferry-staging/<id>, on the same file
// system as the destination, and the caller verifies the digest. Commit
// then:
//
//  1. fsyncs every staged file and directory;
//  2. writes journal/<id>.json (the renames, the previous version's files
//     to remove, and the complete new State) atomically: temporary file,
//     fsync, rename, fsync of the directory. This is the commit point;
//  3. renames each staged file over its final path (creating directories)
//     and fsyncs the directories touched;
//  4. replaces state.json atomically the same way;
//  5. removes the previous version's files that the new one lacks;
//  6. deletes the staging directory, then the journal.
//
// Recover, run under the lock before every operation, rolls every journal
// forward (a rename whose staged file is gone was already done; the other
// steps are idempotent) and deletes staging directories that have no
// journal: those belong to a run that died before its commit point, and
// the previous version was never touched. So after kill -9 at any point
// each visible file is a complete old or complete new file (rename is
// atomic), and after the next Recover the installed files are exactly the
// old version (died before step 2) or exactly the new one, and state.json
// agrees with them. Between steps 3 and 6 a reader may see some files of
// the new version beside some of the old one; nothing is ever half-written.
//
// CommitAll commits a set of artifacts (one install of several) the same
// way with one journal and one write of state.json for the whole set, so
// after a crash the next Recover completes all of them or none.
//
// Remove is journaled the same way, with no staging.
//
// # Unpacking
//
// Unpack accepts regular files and directories only and refuses (with
// *UnsafeArchiveError) links of any kind, device files, FIFOs, absolute
// names, ".." elements, duplicate or conflicting entries, and archives over
// Limits; it writes through os.Root. See Unpack for the details.
package install
