/* sched/gqueue.h - an intrusive FIFO of Gs linked through g->schedlink.
 *
 * Not synchronised: the global run queue holds sched.lock around it, and a
 * batch being moved between queues is private to the mover. */
#ifndef GMPT_GQUEUE_H
#define GMPT_GQUEUE_H

#include <stdint.h>
#include <stddef.h>

struct g;

struct gqueue {
	struct g *head;
	struct g *tail;
	uint32_t len;
};

void gqueue_push(struct gqueue *q, struct g *g);
void gqueue_push_front(struct gqueue *q, struct g *g);
/* Append every G of *batch to q, leaving *batch empty. */
void gqueue_append(struct gqueue *q, struct gqueue *batch);
struct g *gqueue_pop(struct gqueue *q);

static inline int gqueue_empty(const struct gqueue *q)
{
	return q->head == NULL;
}

#endif
