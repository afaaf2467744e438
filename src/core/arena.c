#include "qtrain/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct qt_arena_block {
    qt_arena_block *next;
    size_t size;
    size_t used;
    unsigned char *base;
};

static size_t align_up(size_t n) { return (n + QT_ARENA_ALIGN - 1) & ~(size_t)(QT_ARENA_ALIGN - 1); }

static qt_arena_block *block_new(qt_arena *a, size_t size)
{
    qt_arena_block *b = malloc(sizeof *b);
    if (!b)
        return NULL;
    /* 2 MiB alignment lets the kernel back big blocks with huge pages: one fault per 2 MiB
     * instead of one per 4 KiB, which matters on VMs where faults are slow. */
    size_t align = size >= ((size_t)2 << 20) ? ((size_t)2 << 20) : QT_ARENA_ALIGN;
    size = (size + align - 1) & ~(align - 1);
    void *p = NULL;
    if (posix_memalign(&p, align, size) != 0) {
        free(b);
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    if (align > QT_ARENA_ALIGN)
        madvise(p, size, MADV_HUGEPAGE);
#endif
    b->base = p;
    b->size = size;
    b->used = 0;
    b->next = a->blocks;
    a->blocks = b;
    a->block_allocs++;
    return b;
}

void qt_arena_init(qt_arena *a, size_t first_block_bytes)
{
    memset(a, 0, sizeof *a);
    a->min_block = first_block_bytes ? first_block_bytes : ((size_t)1 << 20);
}

void *qt_arena_alloc(qt_arena *a, size_t bytes)
{
    bytes = align_up(bytes ? bytes : 1);
    qt_arena_block *b = a->blocks;
    if (!b || b->size - b->used < bytes) {
        size_t want = a->blocks ? a->blocks->size * 2 : a->min_block;
        if (want < bytes)
            want = bytes;
        b = block_new(a, want);
        if (!b)
            return NULL;
    }
    void *p = b->base + b->used;
    if (a->poison)
        memset(p, 0xff, bytes);
    b->used += bytes;
    a->used += bytes;
    if (a->used > a->high_water)
        a->high_water = a->used;
    return p;
}

void *qt_arena_calloc(qt_arena *a, size_t bytes)
{
    void *p = qt_arena_alloc(a, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

static void free_blocks(qt_arena *a)
{
    for (qt_arena_block *b = a->blocks, *next; b; b = next) {
        next = b->next;
        free(b->base);
        free(b);
    }
    a->blocks = NULL;
}

void qt_arena_reset(qt_arena *a)
{
    if (a->blocks && a->blocks->next) {
        /* The step needed several blocks: replace them by one that holds the whole step. */
        free_blocks(a);
        a->min_block = a->high_water + a->high_water / 16;
        block_new(a, a->min_block);
    }
    if (a->blocks)
        a->blocks->used = 0;
    a->used = 0;
}

void qt_arena_free(qt_arena *a)
{
    free_blocks(a);
    memset(a, 0, sizeof *a);
}
