/* sched/fiber.h - tell AddressSanitizer about stack switches.
 *
 * Without these annotations ASan sees a stack pointer jump between
 * unrelated stacks and reports false stack-buffer overflows, and its
 * fake-stack (use-after-return) frames leak. Compiled away unless the
 * sanitize build option is on. */
#ifndef GMPT_FIBER_H
#define GMPT_FIBER_H

#include "sched/runtime.h"

#ifdef GMPT_ASAN
#include <sanitizer/common_interface_defs.h>

#include "sched/osthread.h"

static inline void fiber_m_init(struct m *m)
{
	if (!m->g0_stack_lo)
		os_thread_stack(&m->g0_stack_lo, &m->g0_stack_size);
}
/* g0 -> g */
static inline void fiber_switch_to_g(struct m *m, struct g *g)
{
	__sanitizer_start_switch_fiber(&m->asan_fake_stack, g->stack_lo,
				       (size_t)(g->stack_hi - g->stack_lo));
}
static inline void fiber_back_on_g0(struct m *m)
{
	__sanitizer_finish_switch_fiber(m->asan_fake_stack, NULL, NULL);
}
/* g -> g0; a dying G passes NULL so its fake frames are released. */
static inline void fiber_switch_to_g0(struct m *m, struct g *g, bool dying)
{
	__sanitizer_start_switch_fiber(dying ? NULL : &g->asan_fake_stack, m->g0_stack_lo,
				       m->g0_stack_size);
}
static inline void fiber_back_on_g(struct g *g)
{
	__sanitizer_finish_switch_fiber(g->asan_fake_stack, NULL, NULL);
}
static inline void fiber_first_on_g(struct g *g)
{
	(void)g;
	__sanitizer_finish_switch_fiber(NULL, NULL, NULL);
}
static inline void fiber_first_on_g0(struct m *m)
{
	(void)m;
	__sanitizer_finish_switch_fiber(NULL, NULL, NULL);
}
#else
static inline void fiber_m_init(struct m *m)
{
	(void)m;
}
static inline void fiber_switch_to_g(struct m *m, struct g *g)
{
	(void)m;
	(void)g;
}
static inline void fiber_back_on_g0(struct m *m)
{
	(void)m;
}
static inline void fiber_switch_to_g0(struct m *m, struct g *g, bool dying)
{
	(void)m;
	(void)g;
	(void)dying;
}
static inline void fiber_back_on_g(struct g *g)
{
	(void)g;
}
static inline void fiber_first_on_g(struct g *g)
{
	(void)g;
}
static inline void fiber_first_on_g0(struct m *m)
{
	(void)m;
}
#endif

#endif
