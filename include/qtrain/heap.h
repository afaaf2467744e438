/* Scratch heap: a first-class allocator for a step's gradient and scratch buffers, where the
 * step arena's bump allocation would strand freed memory.
 *
 * One contiguous region, reserved once (virtual address space only) and made usable as it
 * grows, so that a buffer never moves. Blocks tile [0, top) in address order; a request takes
 * the smallest free block that fits (the lowest on a tie) and splits off the rest; a freed
 * block merges with free neighbours, and a free block at the top lowers the top. So freed
 * small buffers join into space for larger ones (a backward pass walks from small gradients
 * to large ones). The pages below the highest top ever reached stay touched, and the same
 * sequence of requests gets the same addresses every step: after the first step a repeated
 * step neither faults nor calls the system. */
#ifndef QTRAIN_HEAP_H
#define QTRAIN_HEAP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_heap_block qt_heap_block;

typedef struct qt_heap {
    unsigned char *base;      /* QT_ARENA_ALIGN aligned; NULL until the first request */
    size_t reserved;          /* bytes of address space held */
    size_t committed;         /* bytes from base made readable and writable */
    size_t top;               /* end of the last block in use */
    size_t high_water;        /* max of top over the heap's life */
    size_t used;              /* bytes in blocks in use */
    qt_heap_block *blocks;    /* address order, tiling [0, top) */
    int nblocks, cap;
    void *map;                /* the mapping as the system returned it */
    size_t map_bytes;
} qt_heap;

void qt_heap_init(qt_heap *h);
/* A QT_ARENA_ALIGN aligned, uninitialised buffer of at least `bytes`; NULL when out of
 * memory or address space. */
void *qt_heap_alloc(qt_heap *h, size_t bytes);
/* Frees a buffer from qt_heap_alloc and returns 1; returns 0 (and does nothing) for any other
 * pointer, NULL, or one already freed. */
int qt_heap_release(qt_heap *h, const void *p);
/* 1 when p is a buffer of h in use. */
int qt_heap_owns(const qt_heap *h, const void *p);
/* Frees every buffer at once; the region and its pages are kept for the next step. */
void qt_heap_reset(qt_heap *h);
/* Returns the region to the system. */
void qt_heap_free(qt_heap *h);

#ifdef __cplusplus
}
#endif

#endif
