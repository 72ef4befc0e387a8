// parked: the Go twin of bench/parked.c.  Start N goroutines (default
// 10000) that each wait on one sync.Cond, and measure the time to get them
// all waiting and the memory they hold while they wait (VmRSS and VmPTE of
// the process, KernelStack of the machine, as the C program reads them);
// then release them all (one Broadcast) and wait for them to end, unless
// WAKE is 0: then the process exits with them still waiting
// (wake_ns_per_thread=-1).
//
// usage: parked [threads] [wake]      (defaults 10000, 1)
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// procKiB returns the value in kB of the line "KEY: value kB" of a /proc
// file, or -1.
func procKiB(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, key+":") {
			fields := strings.Fields(line[len(key)+1:])
			if len(fields) > 0 {
				if v, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
					return v
				}
			}
			return -1
		}
	}
	return -1
}

type mem struct{ rss, pte, kstack int64 }

func memNow() mem {
	return mem{procKiB("/proc/self/status", "VmRSS"), procKiB("/proc/self/status", "VmPTE"),
		procKiB("/proc/meminfo", "KernelStack")}
}

func perThread(before, after, n int64) float64 {
	if before < 0 || after < 0 || n <= 0 {
		return -1
	}
	return float64(after-before) / float64(n)
}

func main() {
	n := arg(1, 10000, "threads")
	wakeAll := arg(2, 1, "wake") != 0
	var mu sync.Mutex
	allParked := sync.NewCond(&mu)
	gate := sync.NewCond(&mu)
	parked := int64(0)
	released := false
	var wg sync.WaitGroup

	m0 := memNow()
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			parked++
			if parked == n {
				allParked.Signal()
			}
			for !released {
				gate.Wait()
			}
			mu.Unlock()
		}()
	}
	mu.Lock()
	for parked < n {
		allParked.Wait()
	}
	mu.Unlock()
	t1 := time.Now()
	m1 := memNow()

	wake := -1.0
	if wakeAll {
		mu.Lock()
		released = true
		gate.Broadcast()
		mu.Unlock()
		wg.Wait()
		wake = 0
		if n > 0 {
			wake = float64(time.Since(t1).Nanoseconds()) / float64(n)
		}
	}
	result("parked", t1.Sub(t0), n, fmt.Sprintf("threads=%d rss_kib_per_thread=%.2f pte_kib_per_thread=%.3f "+
		"kstack_kib_per_thread=%.2f rss_mib=%.1f wake_ns_per_thread=%.1f", n,
		perThread(m0.rss, m1.rss, n), perThread(m0.pte, m1.pte, n), perThread(m0.kstack, m1.kstack, n),
		float64(m1.rss)/1024, wake))
}
