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
	"time"
)

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
