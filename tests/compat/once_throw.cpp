// A pthread_once or std::call_once routine that throws: the exception
// reaches the caller, the once stays "not run", and the next call runs the
// routine again (glibc's tst-once5 and the C++ standard). A thread that
// waits on the once while the routine throws runs it itself afterwards.
#include <pthread.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "testutil.h"

struct init_failed {
};

// glibc 2.31's pthread_once (Debian bullseye's) hangs natively when the
// routine throws; 2.36's does not.
#if __GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34)
#define CHECK_PTHREAD_ONCE 1
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int attempts;

static void init_throws_twice()
{
	if (++attempts < 3)
		throw init_failed{};
}

static void pthread_once_retries()
{
	for (int i = 0; i < 3; i++) {
		try {
			CHECK_OK(pthread_once(&once, init_throws_twice));
			std::printf("pthread_once: call %d returned\n", i);
		} catch (init_failed &) {
			std::printf("pthread_once: call %d threw\n", i);
		}
	}
	CHECK_OK(pthread_once(&once, init_throws_twice));
	CHECK_EQ(attempts, 3);
}
#endif

// The libstdc++ of GCC 10 (Debian bullseye's) can leave the waiter
// waiting for ever natively when the routine throws; bookworm's GCC 12
// and later do not.
#if !defined(_GLIBCXX_RELEASE) || _GLIBCXX_RELEASE >= 12
#define CHECK_CALL_ONCE_WAITER 1
static std::once_flag flag;
static std::atomic<int> runs, entered;
static std::atomic<bool> waiter_started;

static void call_once_waiter_runs_it()
{
	std::thread waiter;
	try {
		std::call_once(flag, [&] {
			runs++;
			entered = 1;
			// Another thread now calls call_once and waits for us.
			waiter = std::thread([] {
				waiter_started = true;
				std::call_once(flag, [] { runs++; });
			});
			while (!waiter_started)
				std::this_thread::yield();
			throw init_failed{};
		});
	} catch (init_failed &) {
		std::printf("call_once: the first routine threw\n");
	}
	waiter.join();
	std::call_once(flag, [] { runs++; });
	CHECK_EQ(runs.load(), 2);
	std::printf("call_once: the waiting thread ran it afterwards\n");
}
#endif

int main()
{
#ifdef CHECK_PTHREAD_ONCE
	pthread_once_retries();
#else
	std::printf("pthread_once: not checked with this glibc (before 2.34)\n");
#endif
#ifdef CHECK_CALL_ONCE_WAITER
	call_once_waiter_runs_it();
#else
	std::printf("call_once: not checked with this libstdc++ (before GCC 12)\n");
#endif
	return 0;
}
