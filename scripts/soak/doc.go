// Command soak kills ferry at random points of many installs and checks,
// after each kill, that nothing is half-written: every file in the install
// directory is byte for byte a file of one complete version, and once the
// next run has recovered, the state file lists exactly what is on disk,
// each artifact at one version, with every file of that version and no
// other. Then it runs rounds of concurrent installs of overlapping
// artifacts into the same directories, killing some of them, and checks
// the same.
//
//	make soak   # or: go run ./scripts/soak -ferry bin/ferry -iterations 100
//
// It starts a registry process (scripts/start-registry), pushes two
// versions of a few asset artifacts, each with several files, a directory
// and a layer of a few MiB (so kills land mid-download, mid-unpack and
// mid-swap), and of a dozen small ones; every install names all of them,
// so its commit is one journal for the whole set. After each sequential
// kill and recovery the whole set must be at one version, old or new. It
// prints a summary and exits 1 on any violation.
package main
