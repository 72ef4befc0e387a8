/* sched/gfree.h - pooled G structs: a per-P cache, a global overflow list. */
#ifndef GMPT_GFREE_H
#define GMPT_GFREE_H

struct g;
struct p;

/* A zeroed-out G (its ext area too), from pp's cache when possible. pp may
 * be NULL (no P: straight from the global list or malloc). */
struct g *gfree_get(struct p *pp);
void gfree_put(struct p *pp, struct g *g);

#endif
