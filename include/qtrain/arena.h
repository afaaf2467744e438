/* Step arena: a bump allocator for activations, leaf gradients and saved values of one step.
 * qt_arena_reset() frees everything at once. After the first reset that follows growth the
 * arena holds one block of the high-water size, so a repeated step never allocates again
 * (and touches the same, already-faulted pages). */
#ifndef QTRAIN_ARENA_H
#define QTRAIN_ARENA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_arena_block qt_arena_block;

typedef struct qt_arena {
    qt_arena_block *blocks;   /* newest first */
    size_t used;              /* bytes handed out since the last reset */
    size_t high_water;        /* max of used over the arena's life */
    size_t block_allocs;      /* how many times memory was requested from the system */
    size_t min_block;         /* size of the first block */
    int poison;               /* fill every allocation with NaN bytes (tests: catches reads of
                               * memory a kernel should have written first) */
} qt_arena;

#define QT_ARENA_ALIGN 64

void qt_arena_init(qt_arena *a, size_t first_block_bytes);
/* 64-byte aligned, uninitialised; NULL when the system is out of memory. */
void *qt_arena_alloc(qt_arena *a, size_t bytes);
void *qt_arena_calloc(qt_arena *a, size_t bytes);
void qt_arena_reset(qt_arena *a);
void qt_arena_free(qt_arena *a);

#ifdef __cplusplus
}
#endif

#endif
