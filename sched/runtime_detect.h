/* sched/runtime_detect.h - runtimes gmpt cannot host. */
#ifndef GMPT_RUNTIME_DETECT_H
#define GMPT_RUNTIME_DETECT_H

/* Why gmpt cannot run this process's threads ("this is a Go program, ..."), or
 * NULL. Looks only at what the dynamic loader mapped before the first
 * constructor: the same answer whenever it is asked. */
const char *runtime_detect_unhostable(void);

#endif
