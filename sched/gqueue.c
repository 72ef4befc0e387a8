/* sched/gqueue.c - an intrusive FIFO of Gs linked through g->schedlink. */
#include "sched/gqueue.h"

#include "sched/runtime.h"

void gqueue_push(struct gqueue *q, struct g *g)
{
	g->schedlink = NULL;
	if (q->tail != NULL)
		q->tail->schedlink = g;
	else
		q->head = g;
	q->tail = g;
	q->len++;
}

void gqueue_push_front(struct gqueue *q, struct g *g)
{
	g->schedlink = q->head;
	q->head = g;
	if (q->tail == NULL)
		q->tail = g;
	q->len++;
}

void gqueue_append(struct gqueue *q, struct gqueue *batch)
{
	if (batch->head == NULL)
		return;
	if (q->tail != NULL)
		q->tail->schedlink = batch->head;
	else
		q->head = batch->head;
	q->tail = batch->tail;
	q->len += batch->len;
	batch->head = NULL;
	batch->tail = NULL;
	batch->len = 0;
}

struct g *gqueue_pop(struct gqueue *q)
{
	struct g *g = q->head;

	if (g == NULL)
		return NULL;
	q->head = g->schedlink;
	if (q->head == NULL)
		q->tail = NULL;
	g->schedlink = NULL;
	q->len--;
	return g;
}
