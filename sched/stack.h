/* sched/stack.h - G stacks: mmap'd, guarded while the map-count budget
 * lasts, canary-checked after, pooled per P with a global overflow pool. */
#ifndef GMPT_STACK_H
#define GMPT_STACK_H

#include <stddef.h>

#include "sched/sched.h"

struct g;
struct p;

#define STACK_CANARY_VALUE 0x676d70742d636e79ULL /* "gmpt-cny" */

void stack_init(void);
/* Gives g a stack per spec (from pp's cache when it fits). 0 or -1. */
int stack_acquire(struct p *pp, struct g *g, const struct stack_spec *spec);
/* Takes g's stack back into pp's cache (or the global pool, or unmaps it). */
void stack_release(struct p *pp, struct g *g);
/* M0's scheduler stack. */
void stack_alloc_g0(void **lo, size_t *size);
void stack_after_fork(void);
/* Fills in the main G's stack bounds from the process stack. */
void stack_describe_main(struct g *g);

#endif
