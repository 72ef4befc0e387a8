// A Go program with cgo, for gmpt's "step aside" test: goroutines on
// GOMAXPROCS 4 (channels, a WaitGroup, a mutex, sleeps, computing long
// enough to be preempted, garbage for the collector), a goroutine that
// calls C, which starts pthreads of its own, and pthreads made in C that
// call back into Go. Everything it prints is the same on every run.
// With arguments "-exec PROG", it then runs PROG (with GMPT_DEBUG=stats
// added to the environment, stdout and stderr passed through): a C program
// that must run under gmpt again.
package main

/*
#include <stdlib.h>
#include "threads.h"
*/
import "C"

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"sync"
	"time"
)

var (
	fromC   int
	fromCMu sync.Mutex
)

//export goAdd
func goAdd(v C.int) {
	time.Sleep(time.Millisecond)
	fromCMu.Lock()
	fromC += int(v)
	fromCMu.Unlock()
}

// spin computes for a while without calling anything, so the Go runtime
// has to preempt it with a signal to run the others.
func spin(n int) uint32 {
	x := uint32(1)
	for i := 0; i < n; i++ {
		x = x*1664525 + 1013904223
	}
	return x
}

func main() {
	runtime.GOMAXPROCS(4)

	handoff := make(chan int64)
	go func() { handoff <- int64(C.c_handoff(6)) }()

	var wg sync.WaitGroup
	var mu sync.Mutex
	squares := make(chan int, 64)
	sum := 0
	var spun uint32
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			time.Sleep(time.Duration(i%4) * time.Millisecond)
			garbage := make([][]byte, 0, 64)
			for k := 0; k < 64; k++ {
				garbage = append(garbage, make([]byte, 4096))
			}
			x := spin(2000000 + i*1000)
			mu.Lock()
			sum += i*i + len(garbage) - 64
			spun += x
			mu.Unlock()
			squares <- i * i
		}(i)
	}
	// A goroutine on timers while the others compute.
	stop := make(chan struct{})
	firstTick := make(chan struct{})
	ticked := make(chan bool)
	go func() {
		<-time.After(time.Millisecond)
		close(firstTick)
		for {
			select {
			case <-stop:
				ticked <- true
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	wg.Wait()
	close(squares)
	var all []int
	for v := range squares {
		all = append(all, v)
	}
	sort.Ints(all)
	runtime.GC()

	C.c_call_go(8)
	<-firstTick
	close(stop)
	<-ticked

	fmt.Println("goroutines:", len(all), "first:", all[:4], "last:", all[60:])
	fmt.Println("sum under the mutex:", sum, "computed:", spun)
	fmt.Println("handed over between C threads:", <-handoff)
	fmt.Println("added from C threads:", fromC)
	switch C.c_pipe_nonblocking() {
	case 0:
		fmt.Println("a pipe made in C is blocking underneath")
	case 1:
		fmt.Println("a pipe made in C is non-blocking underneath")
	default:
		fmt.Println("cannot read /proc/self/fdinfo")
		os.Exit(1)
	}

	if len(os.Args) == 3 && os.Args[1] == "-exec" {
		child := exec.Command(os.Args[2])
		child.Env = append(os.Environ(), "GMPT_DEBUG=stats")
		child.Stdout = os.Stdout
		child.Stderr = os.Stderr
		if err := child.Run(); err != nil {
			fmt.Println("the child failed:", err)
			os.Exit(1)
		}
	}
}
