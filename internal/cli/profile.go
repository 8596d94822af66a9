package cli

import (
	"fmt"
	"os"
	"runtime/pprof"
	"runtime/trace"
)

// startProfiling writes a CPU profile to $FERRY_CPUPROFILE and an execution
// trace (where the wall time goes: network waits, syscalls, locks) to
// $FERRY_TRACE, when set, for the length of the run. It returns the function
// that stops and flushes them. For `make bench` investigations:
//
//	FERRY_TRACE=t.out ferry artifact install ...; go tool trace t.out
func startProfiling() func() {
	var stops []func()
	if path := os.Getenv("FERRY_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err != nil {
			fmt.Fprintln(os.Stderr, "warning: FERRY_CPUPROFILE:", err)
		} else if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "warning: FERRY_CPUPROFILE:", err)
			f.Close()
		} else {
			stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
		}
	}
	if path := os.Getenv("FERRY_TRACE"); path != "" {
		if f, err := os.Create(path); err != nil {
			fmt.Fprintln(os.Stderr, "warning: FERRY_TRACE:", err)
		} else if err := trace.Start(f); err != nil {
			fmt.Fprintln(os.Stderr, "warning: FERRY_TRACE:", err)
			f.Close()
		} else {
			stops = append(stops, func() { trace.Stop(); f.Close() })
		}
	}
	return func() {
		for _, stop := range stops {
			stop()
		}
	}
}
