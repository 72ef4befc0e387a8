/* trace_idle.c - four threads meet at a barrier (five alive with main: the
 * peak), end, and then main reads a line from stdin: a read in the kernel
 * (stdin is not one of gmpt's fds), so its P is soon taken back by sysmon
 * and every P is idle until the test writes the line. check_schedtrace.sh
 * writes it only once enough GMPT_DEBUG=schedtrace lines have come. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_barrier_t all_here;

static void *meet(void *arg)
{
	pthread_barrier_wait(&all_here);
	return arg;
}

int main(void)
{
	pthread_barrier_init(&all_here, NULL, 5);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, meet, NULL);
	pthread_barrier_wait(&all_here);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	char line[64];
	ssize_t n = read(0, line, sizeof line);
	printf("read %zd\n", n);
	return n > 0 ? 0 : 1;
}
