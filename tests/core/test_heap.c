/* The scratch heap (heap.h): freed neighbours merge, a block splits on allocation, live
 * buffers never overlap (against a naive model of a random sequence), and a reset step gets
 * the same addresses without asking the system for more. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/arena.h"
#include "qtrain/heap.h"
#include "qtrain/rng.h"

static size_t rounded(size_t n)
{
    return (n + QT_ARENA_ALIGN - 1) / QT_ARENA_ALIGN * QT_ARENA_ALIGN;
}

static void test_free_neighbours_merge(void **state)
{
    qt_heap h;
    qt_heap_init(&h);
    unsigned char *a = qt_heap_alloc(&h, 1000), *b = qt_heap_alloc(&h, 3000);
    unsigned char *guard = qt_heap_alloc(&h, 1); /* keeps a and b below the top */
    assert_non_null(guard);
    assert_ptr_equal(b, a + rounded(1000));
    size_t top = h.top, committed = h.committed;
    assert_int_equal(qt_heap_release(&h, b), 1);
    assert_int_equal(qt_heap_release(&h, a), 1);
    /* neither alone holds the request; merged they do, without growing the region */
    unsigned char *ab = qt_heap_alloc(&h, rounded(1000) + rounded(3000));
    assert_ptr_equal(ab, a);
    assert_int_equal(h.top, top);
    assert_int_equal(h.high_water, top);
    assert_int_equal(h.committed, committed);
    qt_heap_free(&h);
}

static void test_block_splits(void **state)
{
    qt_heap h;
    qt_heap_init(&h);
    unsigned char *a = qt_heap_alloc(&h, 4096);
    assert_non_null(qt_heap_alloc(&h, 1));
    size_t top = h.top;
    qt_heap_release(&h, a);
    unsigned char *p = qt_heap_alloc(&h, 1000), *q = qt_heap_alloc(&h, 3000);
    assert_ptr_equal(p, a);                 /* the front of the free block */
    assert_ptr_equal(q, a + rounded(1000)); /* the rest of it */
    assert_int_equal(h.top, top);
    qt_heap_free(&h);
}

/* The smallest free block that fits, not the first. */
static void test_best_fit(void **state)
{
    qt_heap h;
    qt_heap_init(&h);
    unsigned char *big = qt_heap_alloc(&h, 8192), *g1 = qt_heap_alloc(&h, 1);
    unsigned char *small = qt_heap_alloc(&h, 1024), *g2 = qt_heap_alloc(&h, 1);
    assert_non_null(g1);
    assert_non_null(g2);
    qt_heap_release(&h, big);
    qt_heap_release(&h, small);
    assert_ptr_equal(qt_heap_alloc(&h, 1000), small);
    assert_ptr_equal(qt_heap_alloc(&h, 1000), big);
    qt_heap_free(&h);
}

static void test_release_ignores_foreign(void **state)
{
    qt_heap h;
    qt_heap_init(&h);
    int local;
    assert_int_equal(qt_heap_release(&h, &local), 0); /* before any request */
    unsigned char *a = qt_heap_alloc(&h, 256);
    assert_int_equal(qt_heap_owns(&h, a), 1);
    assert_int_equal(qt_heap_release(&h, a + 64), 0); /* inside a block, not its start */
    assert_int_equal(qt_heap_release(&h, NULL), 0);
    assert_int_equal(qt_heap_release(&h, &local), 0);
    assert_int_equal(qt_heap_release(&h, a), 1);
    assert_int_equal(qt_heap_owns(&h, a), 0);
    assert_int_equal(qt_heap_release(&h, a), 0);      /* twice */
    assert_int_equal(h.used, 0);
    assert_int_equal(h.top, 0);                       /* a free top block lowers the top */
    qt_heap_free(&h);
}

enum { SLOTS = 64, OPS = 20000 };

typedef struct {
    unsigned char *p;
    size_t bytes;
} live_buf;

/* Random requests and releases: every live buffer is aligned, lies in the region, overlaps no
 * other (each holds its own byte pattern, checked when it is released) and `used` is the sum
 * of the live sizes. Returns the addresses handed out, folded into one number. */
static uint64_t random_sequence(qt_heap *h, uint64_t seed)
{
    live_buf live[SLOTS] = {{0}};
    qt_rng r;
    qt_rng_seed(&r, seed);
    uint64_t trace = 0;
    for (int op = 0; op < OPS; op++) {
        live_buf *b = &live[qt_rng_below(&r, SLOTS)];
        if (b->p) {
            for (size_t i = 0; i < b->bytes; i++)
                if (b->p[i] != (unsigned char)(b - live))
                    fail_msg("op %d: buffer %d overwritten at byte %zu", op, (int)(b - live), i);
            assert_int_equal(qt_heap_release(h, b->p), 1);
            b->p = NULL;
        } else {
            /* sizes over three orders of magnitude, as gradients and kernel scratch */
            b->bytes = 1 + qt_rng_below(&r, 1u << (6 + qt_rng_below(&r, 12)));
            b->p = qt_heap_alloc(h, b->bytes);
            assert_non_null(b->p);
            assert_int_equal((uintptr_t)b->p % QT_ARENA_ALIGN, 0);
            assert_true(b->p >= h->base && b->p + b->bytes <= h->base + h->top);
            for (const live_buf *o = live; o < live + SLOTS; o++)
                if (o != b && o->p && b->p < o->p + o->bytes && o->p < b->p + b->bytes)
                    fail_msg("op %d: new buffer overlaps buffer %d", op, (int)(o - live));
            memset(b->p, (unsigned char)(b - live), b->bytes);
            trace = trace * 1000003u + (uint64_t)(b->p - h->base);
        }
        size_t used = 0;
        for (const live_buf *o = live; o < live + SLOTS; o++)
            used += o->p ? rounded(o->bytes) : 0;
        assert_int_equal(h->used, used);
    }
    return trace;
}

static void test_random_no_overlap(void **state)
{
    qt_heap h;
    qt_heap_init(&h);
    uint64_t first = random_sequence(&h, 11);
    size_t committed = h.committed, high = h.high_water;
    print_message("high-water %zu B\n", high);
    /* the same step again: the same addresses, nothing more from the system */
    qt_heap_reset(&h);
    assert_int_equal(h.used, 0);
    assert_true(random_sequence(&h, 11) == first);
    assert_int_equal(h.committed, committed);
    assert_int_equal(h.high_water, high);
    qt_heap_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_free_neighbours_merge),
        cmocka_unit_test(test_block_splits),
        cmocka_unit_test(test_best_fit),
        cmocka_unit_test(test_release_ignores_foreign),
        cmocka_unit_test(test_random_no_overlap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
