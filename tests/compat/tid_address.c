/* set_tid_address(2) returns the calling thread's id, the one gettid
 * gives, and prctl(PR_GET_TID_ADDRESS) reads back the address it set
 * (stress-ng's pthread stressor checks both). Each thread puts back the
 * address it found (glibc's, which its join waits on) before it ends. */
#define _GNU_SOURCE
#include "testutil.h"

#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static void *check(void *arg)
{
	int *old = NULL, *now = NULL;
	int word = 1;
	CHECK(prctl(PR_GET_TID_ADDRESS, &old) == 0);
	long r = syscall(SYS_set_tid_address, &word);
	CHECK(prctl(PR_GET_TID_ADDRESS, &now) == 0);
	int returns_tid = r == syscall(SYS_gettid) && r == gettid();
	int reads_back = now == &word;
	CHECK(syscall(SYS_set_tid_address, old) == r);
	CHECK(prctl(PR_GET_TID_ADDRESS, &now) == 0);
	printf("%s: returns its id %d, reads back %d, restored %d\n", (const char *)arg,
	       returns_tid, reads_back, now == old);
	return NULL;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	check("main");
	for (int i = 0; i < 4; i++) {
		pthread_t t;
		CHECK_OK(pthread_create(&t, NULL, check, "thread"));
		CHECK_OK(pthread_join(t, NULL));
	}
	return 0;
}
