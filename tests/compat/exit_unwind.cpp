// pthread_exit unwinds the thread's stack as glibc does: destructors of
// C++ locals in every frame, pthread_cleanup_push handlers (innermost
// first), catch (...) blocks that rethrow; the value reaches the joiner.
#include <atomic>
#include <cstdio>
#include <cstring>
#include <pthread.h>
#include <string>
#include <unistd.h>

#include "testutil.h"

static std::atomic<int> order{0};
static int dtor_inner, dtor_outer, cleanup_one, cleanup_two, caught;

struct Guard {
	int *slot;
	~Guard()
	{
		*slot = ++order;
	}
};

static void cleanup(void *slot)
{
	*(int *)slot = ++order;
}

static void deep(int depth);
static void (*volatile recurse)(int) = deep; // every path exits: hide it from -Winfinite-recursion

static void deep(int depth)
{
	Guard g{&dtor_inner};
	if (depth > 0) {
		recurse(depth - 1);
		return;
	}
	usleep(1000); // block first: exit after a switch
	pthread_exit((void *)42);
}

static void *worker(void *)
{
	Guard outer{&dtor_outer};
	pthread_cleanup_push(cleanup, &cleanup_one);
	pthread_cleanup_push(cleanup, &cleanup_two);
	try {
		deep(3);
	} catch (...) {
		caught = ++order;
		throw; // a forced unwind must go on
	}
	pthread_cleanup_pop(0);
	pthread_cleanup_pop(0);
	return nullptr;
}

int main()
{
	for (int round = 0; round < 3; round++) {
		order = 0;
		dtor_inner = dtor_outer = cleanup_one = cleanup_two = caught = 0;
		pthread_t t;
		CHECK_EQ(pthread_create(&t, nullptr, worker, nullptr), 0);
		void *ret = nullptr;
		CHECK_EQ(pthread_join(t, &ret), 0);
		CHECK_EQ((long)(intptr_t)ret, 42L);
		// Innermost first: the deepest Guard ran first (its slot holds
		// the last of the four deep frames), then catch, the two cleanup
		// handlers in reverse order of push, the outer Guard last.
		CHECK_EQ(dtor_inner, 4);
		CHECK_EQ(caught, 5);
		CHECK_EQ(cleanup_two, 6);
		CHECK_EQ(cleanup_one, 7);
		CHECK_EQ(dtor_outer, 8);
	}
	printf("pthread_exit: destructors, catch(...), cleanup handlers in order; value 42\n");
	return 0;
}
