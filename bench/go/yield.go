// yield: the Go twin of bench/yield.c.  T goroutines (default 2) each call
// runtime.Gosched() N times; they start together when a gate channel is
// closed, and the clock runs from the gate to the last one's end.
// ns_per_op = wall time / (T * N).
//
// usage: yield [N] [T]          (defaults 200000, 2)
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

func main() {
	n := arg(1, 200000, "yields-per-thread")
	t := arg(2, 2, "threads")
	if t < 1 || t > 4096 {
		fmt.Fprintln(os.Stderr, "yield: threads must be in 1..4096")
		os.Exit(2)
	}
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := int64(0); i < t; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			for j := int64(0); j < n; j++ {
				runtime.Gosched()
			}
		}()
	}
	t0 := time.Now()
	close(gate)
	wg.Wait()
	result("yield", time.Since(t0), n*t, fmt.Sprintf("threads=%d", t))
}
