#include "qtrain/heap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "qtrain/arena.h"

struct qt_heap_block {
    size_t off, bytes;
    int free;
};

#define HUGE_PAGE ((size_t)2 << 20)

static size_t round_up(size_t n, size_t to) { return (n + to - 1) & ~(to - 1); }

void qt_heap_init(qt_heap *h) { memset(h, 0, sizeof *h); }

/* Address space for twice the machine's memory: more than a step can use, and only what is
 * committed counts against the system. A quarter at most of an address-space limit, which
 * leaves the rest to the arena; halved while the system refuses. */
static int reserve(qt_heap *h)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    size_t want = pages > 0 && page > 0 ? 2 * (size_t)pages * (size_t)page : (size_t)1 << 32;
    struct rlimit as;
    if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY && as.rlim_cur / 4 < want)
        want = as.rlim_cur / 4;
    for (want = round_up(want, HUGE_PAGE); want >= HUGE_PAGE; want /= 2) {
        /* PROT_NONE: a reservation, not a commitment, even under strict overcommit. */
        void *m = mmap(NULL, want + HUGE_PAGE, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED)
            continue;
        h->map = m;
        h->map_bytes = want + HUGE_PAGE;
        /* huge-page aligned, so the kernel can back it with 2 MiB pages (one fault each) */
        h->base = (unsigned char *)round_up((uintptr_t)m, HUGE_PAGE);
        h->reserved = want;
        return 1;
    }
    return 0;
}

/* Makes [0, end) usable, in whole huge pages. */
static int commit(qt_heap *h, size_t end)
{
    if (end <= h->committed)
        return 1;
    if ((!h->base && !reserve(h)) || end > h->reserved)
        return 0;
    size_t to = round_up(end, HUGE_PAGE);
    if (to > h->reserved)
        to = h->reserved;
    if (mprotect(h->base + h->committed, to - h->committed, PROT_READ | PROT_WRITE) != 0)
        return 0;
#ifdef MADV_HUGEPAGE
    /* Also the first 2 MiB, where the small, hot buffers live: with 4 KiB pages there
     * ResNet-56's best steps were slower (111-135 against 125-177 img/s, 4 A/B rounds); a
     * small heap pays a whole 2 MiB page for it. */
    madvise(h->base + h->committed, to - h->committed, MADV_HUGEPAGE);
#endif
    h->committed = to;
    return 1;
}

/* Opens a slot at index i (blocks i.. move up one). */
static int insert_slot(qt_heap *h, int i)
{
    if (h->nblocks == h->cap) {
        int cap = h->cap ? 2 * h->cap : 64;
        qt_heap_block *b = realloc(h->blocks, (size_t)cap * sizeof *b);
        if (!b)
            return 0;
        h->blocks = b;
        h->cap = cap;
    }
    memmove(h->blocks + i + 1, h->blocks + i, (size_t)(h->nblocks - i) * sizeof *h->blocks);
    h->nblocks++;
    return 1;
}

static void remove_slot(qt_heap *h, int i)
{
    memmove(h->blocks + i, h->blocks + i + 1, (size_t)(h->nblocks - i - 1) * sizeof *h->blocks);
    h->nblocks--;
}

/* The smallest free block of at least `bytes`, the lowest on a tie; -1 when none. */
static int best_fit(const qt_heap *h, size_t bytes)
{
    int best = -1;
    for (int i = 0; i < h->nblocks; i++) {
        const qt_heap_block *b = &h->blocks[i];
        if (b->free && b->bytes >= bytes && (best < 0 || b->bytes < h->blocks[best].bytes))
            best = i;
    }
    return best;
}

/* Takes block i (free, at least `bytes`) and leaves its tail free. */
static int take(qt_heap *h, int i, size_t bytes)
{
    if (h->blocks[i].bytes > bytes) {
        if (!insert_slot(h, i + 1))
            return 0;
        h->blocks[i + 1] = (qt_heap_block){h->blocks[i].off + bytes,
                                           h->blocks[i].bytes - bytes, 1};
        h->blocks[i].bytes = bytes;
    }
    h->blocks[i].free = 0;
    return 1;
}

/* A new block at the top. */
static int push(qt_heap *h, size_t bytes)
{
    if (h->top + bytes < h->top || !commit(h, h->top + bytes) || !insert_slot(h, h->nblocks))
        return -1;
    h->blocks[h->nblocks - 1] = (qt_heap_block){h->top, bytes, 0};
    h->top += bytes;
    if (h->top > h->high_water)
        h->high_water = h->top;
    return h->nblocks - 1;
}

void *qt_heap_alloc(qt_heap *h, size_t bytes)
{
    if (bytes > SIZE_MAX - QT_ARENA_ALIGN)
        return NULL;
    bytes = round_up(bytes ? bytes : 1, QT_ARENA_ALIGN);
    int i = best_fit(h, bytes);
    if (i >= 0 ? !take(h, i, bytes) : (i = push(h, bytes)) < 0)
        return NULL;
    h->used += bytes;
    return h->base + h->blocks[i].off;
}

/* Index of the block starting at p; -1 when p starts none. */
static int find(const qt_heap *h, const void *p)
{
    const unsigned char *q = p;
    if (!h->base || !q || q < h->base || q >= h->base + h->top)
        return -1;
    size_t off = (size_t)(q - h->base);
    int lo = 0, hi = h->nblocks - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (h->blocks[mid].off == off)
            return mid;
        if (h->blocks[mid].off < off)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

int qt_heap_owns(const qt_heap *h, const void *p)
{
    int i = find(h, p);
    return i >= 0 && !h->blocks[i].free;
}

int qt_heap_release(qt_heap *h, const void *p)
{
    int i = find(h, p);
    if (i < 0 || h->blocks[i].free)
        return 0;
    h->used -= h->blocks[i].bytes;
    h->blocks[i].free = 1;
    if (i + 1 < h->nblocks && h->blocks[i + 1].free) {
        h->blocks[i].bytes += h->blocks[i + 1].bytes;
        remove_slot(h, i + 1);
    }
    if (i > 0 && h->blocks[i - 1].free) {
        h->blocks[i - 1].bytes += h->blocks[i].bytes;
        remove_slot(h, i--);
    }
    if (i == h->nblocks - 1) { /* the top block: no block above needs it kept */
        h->top = h->blocks[i].off;
        h->nblocks--;
    }
    return 1;
}

void qt_heap_reset(qt_heap *h)
{
    h->nblocks = 0;
    h->top = 0;
    h->used = 0;
}

void qt_heap_free(qt_heap *h)
{
    if (h->map)
        munmap(h->map, h->map_bytes);
    free(h->blocks);
    memset(h, 0, sizeof *h);
}
