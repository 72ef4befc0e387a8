// mutex_contended: the Go twin of bench/mutex_contended.c.  T goroutines
// (default 64) each do M iterations of lock / increment a shared counter /
// unlock on one sync.Mutex, released together by closing a gate channel.
// ns_per_op = wall time / (T * M); the final count is checked.
//
// usage: mutex_contended [M] [T]    (defaults 20000, 64)
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

func main() {
	iters := arg(1, 20000, "iterations-per-thread")
	t := arg(2, 64, "threads")
	if t < 1 || t > 4096 {
		fmt.Fprintln(os.Stderr, "mutex_contended: threads must be in 1..4096")
		os.Exit(2)
	}
	var mu sync.Mutex
	counter := int64(0)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := int64(0); i < t; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			for j := int64(0); j < iters; j++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}()
	}
	t0 := time.Now()
	close(gate)
	wg.Wait()
	elapsed := time.Since(t0)
	if counter != iters*t {
		fmt.Fprintf(os.Stderr, "mutex_contended: counter=%d, expected %d\n", counter, iters*t)
		os.Exit(1)
	}
	result("mutex_contended", elapsed, iters*t, fmt.Sprintf("threads=%d count=%d", t, iters*t))
}
