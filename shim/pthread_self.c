/* shim/pthread_self.c - pthread_self and pthread_equal. */
#include "shim/thread.h"

EXPORT pthread_t pthread_self(void)
{
	STEP_ASIDE_FORWARD(pthread_self);
	return (pthread_t)thread_self();
}

EXPORT int pthread_equal(pthread_t a, pthread_t b)
{
	STEP_ASIDE_FORWARD(pthread_equal, a, b);
	return a == b;
}
