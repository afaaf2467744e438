/* Reverse-mode autograd with a tape.
 *
 * A qt_ctx holds one step's state: the arena its tensors live in, the tape, and the mode.
 * While grad is on, every op whose inputs need a gradient appends a node {backward, out, in,
 * saved}; qt_backward() walks the nodes newest first. A tensor used twice (a residual) gets
 * the sum of both gradients. With grad off (evaluation) nothing is recorded or saved.
 *
 * Ops never abort: on failure (out of memory, shape mismatch) an op records the error in the
 * context and returns NULL, and every op given a NULL input returns NULL, so a forward pass
 * can be checked once at its end (qt_ctx_failed). */
#ifndef QTRAIN_AUTOGRAD_H
#define QTRAIN_AUTOGRAD_H

#include "qtrain/arena.h"
#include "qtrain/error.h"
#include "qtrain/rng.h"
#include "qtrain/tensor.h"

typedef struct qt_ctx qt_ctx;
typedef struct qt_node qt_node;
typedef struct qt_pool qt_pool;

typedef void (*qt_backward_fn)(qt_ctx *c, const qt_node *n);

struct qt_node {
    qt_backward_fn backward;
    qt_tensor *out;
    qt_tensor *in[3];
    void *saved;              /* op-specific values kept for backward, in the arena */
    qt_node *prev;
};

struct qt_ctx {
    qt_arena arena;
    qt_node *tape;            /* newest node */
    int grad_enabled;         /* record the tape (training); 0 for evaluation */
    int training;             /* batchnorm uses batch statistics, dropout drops */
    qt_rng rng;               /* dropout masks; seeded by the owner */
    qt_pool *pool;            /* worker threads for kernels; NULL runs serially */
    int failed;
    qt_error err;
};

void qt_ctx_init(qt_ctx *c);
void qt_ctx_free(qt_ctx *c);
/* Starts a step: frees every tensor of the previous step and empties the tape. */
void qt_ctx_reset(qt_ctx *c);
static inline int qt_ctx_failed(const qt_ctx *c) { return c->failed; }
/* Records an error in the context (the first one wins) and returns NULL for `return`. */
void *qt_ctx_fail(qt_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* New arena tensor (data uninitialised); NULL and a context error when out of memory. */
qt_tensor *qt_tensor_new(qt_ctx *c, int ndim, const int *shape);
qt_tensor *qt_tensor_new4(qt_ctx *c, int n, int ch, int h, int w);
qt_tensor *qt_tensor_new2(qt_ctx *c, int n, int f);
/* A tensor header over caller-owned data (an input batch); never requires grad. */
qt_tensor *qt_tensor_wrap(qt_ctx *c, float *data, int ndim, const int *shape);
void *qt_ctx_alloc(qt_ctx *c, size_t bytes);

/* Appends a node when grad is on and some input requires grad; marks out as requiring grad.
 * Returns the node (so the op can fill node->saved) or NULL when nothing was recorded. */
qt_node *qt_tape_record(qt_ctx *c, qt_backward_fn fn, qt_tensor *out,
                        qt_tensor *in0, qt_tensor *in1, qt_tensor *in2);
/* Saved-value buffer of `bytes` for a recorded node (NULL node: returns NULL, no error). */
void *qt_node_save(qt_ctx *c, qt_node *n, size_t bytes);

/* The gradient buffer a backward kernel writes into for input t. *beta is 0 when the buffer
 * holds nothing yet (overwrite) and 1 when another consumer already wrote (accumulate).
 * Returns NULL when t needs no gradient (or on out-of-memory, which fails the context). */
float *qt_grad_target(qt_ctx *c, qt_tensor *t, float *beta);

/* Seeds d(loss)/d(loss) = 1 (loss must have one element) and runs the tape backward. */
int qt_backward(qt_ctx *c, qt_tensor *loss, qt_error *err);
/* Runs the tape backward from `out` whose gradient the caller already set (gradient checks). */
int qt_backward_from(qt_ctx *c, qt_tensor *out, const float *dout, qt_error *err);

#endif
