// bench_common.go: what every Go twin shares with bench/bench_common.h,
// built into each of them (scripts/bench: go build NAME.go bench_common.go).
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// arg returns os.Args[idx] as a non-negative integer, def if absent; a
// bad value exits 2 with one line naming what.
func arg(idx int, def int64, what string) int64 {
	if idx >= len(os.Args) {
		return def
	}
	v, err := strconv.ParseInt(os.Args[idx], 10, 64)
	if err != nil || v < 0 {
		fmt.Fprintf(os.Stderr, "%s: %s must be a non-negative integer, got '%s'\n", os.Args[0], what, os.Args[idx])
		os.Exit(2)
	}
	return v
}

// result prints the RESULT line in bench_common.h's format.
func result(name string, elapsed time.Duration, ops int64, extra string) {
	per := 0.0
	if ops > 0 {
		per = float64(elapsed.Nanoseconds()) / float64(ops)
	}
	if extra != "" {
		extra = " " + extra
	}
	fmt.Printf("RESULT name=%s ns_per_op=%.1f ops=%d elapsed_ns=%d%s\n", name, per, ops, elapsed.Nanoseconds(), extra)
}
