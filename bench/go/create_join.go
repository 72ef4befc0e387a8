// create_join: the Go twin of bench/create_join.c.  Start a goroutine that
// hands its argument back at once and wait for it, N times in sequence: the
// whole life of a goroutine (allocation, first run, exit), with the join as
// a receive from an unbuffered channel.
//
// usage: create_join [N]        (default 20000)
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

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

func main() {
	n := arg(1, 20000, "iterations")
	ret := make(chan int64)
	bad := 0
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		go func(v int64) { ret <- v }(i + 1)
		if <-ret != i+1 {
			bad++
		}
	}
	elapsed := time.Since(t0)
	if bad != 0 {
		fmt.Fprintf(os.Stderr, "create_join: %d joins returned the wrong value\n", bad)
		os.Exit(1)
	}
	result("create_join", elapsed, n, "")
}
