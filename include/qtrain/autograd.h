/* Reverse-mode autograd with a tape.
 *
 * A qt_ctx holds one step's state: the arena its tensors live in, the tape, and the mode.
 * While grad is on, every op whose inputs need a gradient appends a node {backward, out, in,
 * saved}; qt_backward() walks the nodes newest first. A tensor used twice (a residual) gets
 * the sum of both gradients. With grad off (evaluation) nothing is recorded or saved.
 *
 * Ops never abort: on failure (out of memory, shape mismatch) an op records the error in the
 * context and returns NULL, and every op given a NULL input returns NULL, so a forward pass
 * can be checked once at its end (qt_ctx_failed).
 *
 * Memory: tensors, nodes and saved values come from the step arena. Gradient buffers and
 * kernel scratch come from the context's scratch heap (qt_ctx_scratch, heap.h), where a
 * released buffer's space serves later requests: the gradient of a node's output is released
 * as soon as that node's backward has run, so a backward pass holds only a few gradients at
 * a time. The sequence of
 * requests repeats from step to step, so after the first step nothing grows. */
#ifndef QTRAIN_AUTOGRAD_H
#define QTRAIN_AUTOGRAD_H

#include "qtrain/arena.h"
#include "qtrain/heap.h"
#include "qtrain/cpu.h"
#include "qtrain/error.h"
#include "qtrain/rng.h"
#include "qtrain/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_ctx qt_ctx;
typedef struct qt_node qt_node;
typedef struct qt_pool qt_pool;
typedef struct qt_ctx_step qt_ctx_step;
typedef struct qt_profile qt_profile;

/* Which convolution algorithm the dispatcher may pick (tests force each one). */
typedef enum {
    QT_CONV_AUTO = 0,         /* the fastest applicable (Winograd F(4x4, 3x3) or F(2x2, 3x3)
                               * by image size) */
    QT_CONV_IM2COL,           /* patch matrix per image, then a matrix product */
    QT_CONV_DIRECT,           /* "same" convolutions without a patch matrix: stride 1, and
                               * stride 2 on even-sized images through phase planes (falls
                               * back to im2col where it does not apply) */
    QT_CONV_WINOGRAD,         /* Winograd F(2x2, 3x3) for 3x3 stride-1 pad-1 ungrouped convs,
                               * forward and both gradients (else as DIRECT) */
    QT_CONV_WINOGRAD_F4,      /* the same with F(4x4, 3x3) */
} qt_conv_algo;

typedef void (*qt_backward_fn)(qt_ctx *c, const qt_node *n);
/* Runs node n's backward for the tape walk, in place of the walk calling n->backward itself:
 * how a profiler times each node (profile.h, qt_profile_attach). */
typedef void (*qt_backward_hook)(qt_ctx *c, const qt_node *n);

struct qt_node {
    qt_backward_fn backward;
    qt_tensor *out;
    qt_tensor *in[4];
    void *saved;              /* op-specific values kept for backward, in the arena */
    qt_node *prev;
    int layer;                /* the net layer that recorded it, when profiling; else -1 */
};

struct qt_ctx {
    qt_arena arena;
    qt_heap scratch;          /* gradient and kernel scratch buffers (qt_ctx_scratch) */
    qt_node *tape;            /* newest node */
    int grad_enabled;         /* record the tape (training); 0 for evaluation */
    int training;             /* batchnorm uses batch statistics, dropout drops */
    qt_rng rng;               /* dropout masks; seeded by the owner */
    qt_pool *pool;            /* worker threads for kernels (qt_ctx_set_threads); NULL: serial */
    qt_isa isa;               /* vector instructions the kernels use (QT_ISA_AUTO: best) */
    qt_conv_algo conv_algo;
    qt_ctx_step *step;        /* the step's hand-offs between ops:
                                 core's own (src/core/ctx_step.h), NULL until first used */
    qt_profile *profile;      /* times layers and passes when set (profile.h); NULL: off */
    qt_backward_hook backward_hook; /* set with profile (qt_profile_attach); NULL: none */
    /* Data parallelism: training batch norm sums its batch statistics (forward) and its
     * gradient sums (backward) over these processes (comm.h); NULL: this process's alone. */
    struct qt_comm *sync_bn;
    /* qt_tensor_new takes tensors' data from the scratch heap instead of the arena, so that
     * it can be given back within the step: qt_net_run sets it for the layer outputs it
     * releases once read (net.h). */
    int outputs_in_scratch;
    int failed;
    qt_error err;
};

void qt_ctx_init(qt_ctx *c);
void qt_ctx_free(qt_ctx *c);
/* Runs the kernels on `threads` workers (the caller plus threads - 1 helpers; 1 = serial,
 * 0 = one per core). OpenBLAS is set to one thread: the kernels call it from inside their
 * own tasks. */
int qt_ctx_set_threads(qt_ctx *c, int threads, qt_error *err);
/* Pins the kernels to an instruction set; fails when this CPU or build lacks it. */
int qt_ctx_set_isa(qt_ctx *c, qt_isa isa, qt_error *err);
/* Starts a step: frees every tensor of the previous step and empties the tape. */
void qt_ctx_reset(qt_ctx *c);
static inline int qt_ctx_failed(const qt_ctx *c) { return c->failed; }
/* Records an error in the context (the first one wins) and returns NULL for `return`. */
void *qt_ctx_fail(qt_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* New arena tensor (data uninitialised; from the scratch heap while c->outputs_in_scratch);
 * NULL and a context error when out of memory. */
qt_tensor *qt_tensor_new(qt_ctx *c, int ndim, const int *shape);
qt_tensor *qt_tensor_new4(qt_ctx *c, int n, int ch, int h, int w);
qt_tensor *qt_tensor_new2(qt_ctx *c, int n, int f);
/* A tensor header over caller-owned data (an input batch); never requires grad. */
qt_tensor *qt_tensor_wrap(qt_ctx *c, float *data, int ndim, const int *shape);
void *qt_ctx_alloc(qt_ctx *c, size_t bytes);
/* A 64-byte aligned buffer of at least `bytes` (filled with NaN bytes when arena.poison is
 * set) that the caller gives back with qt_ctx_release once done (within the step): its space
 * then serves later requests. NULL and a context error when out of memory. */
void *qt_ctx_scratch(qt_ctx *c, size_t bytes);
/* Gives back a buffer from qt_ctx_scratch; any other pointer (or NULL) is ignored. */
void qt_ctx_release(qt_ctx *c, const void *p);
/* The step's memory at its largest, at most: the arena's high-water mark plus the scratch
 * heap's (each reached at its own moment). */
static inline size_t qt_ctx_high_water(const qt_ctx *c)
{
    return c->arena.high_water + c->scratch.high_water;
}

/* Appends a node when grad is on and some input requires grad; marks out as requiring grad.
 * Returns the node (so the op can fill node->saved) or NULL when nothing was recorded. */
qt_node *qt_tape_record(qt_ctx *c, qt_backward_fn fn, qt_tensor *out,
                        qt_tensor *in0, qt_tensor *in1, qt_tensor *in2);
/* The same for ops with a fourth input (a fused residual). */
qt_node *qt_tape_record4(qt_ctx *c, qt_backward_fn fn, qt_tensor *out, qt_tensor *in0,
                         qt_tensor *in1, qt_tensor *in2, qt_tensor *in3);
/* Saved-value buffer of `bytes` for a recorded node (NULL node: returns NULL, no error). */
void *qt_node_save(qt_ctx *c, qt_node *n, size_t bytes);

/* The gradient buffer a backward kernel writes into for input t. *beta is 0 when the buffer
 * holds nothing yet (overwrite) and 1 when another consumer already wrote (accumulate).
 * Returns NULL when t needs no gradient (or on out-of-memory, which fails the context).
 * A buffer allocated here for an op's output lives until the op's backward has run; read
 * gradients of leaves (inputs, parameters), not of intermediate tensors. */
float *qt_grad_target(qt_ctx *c, qt_tensor *t, float *beta);

/* For a backward kernel whose gradient for input t equals its output's gradient: hands the
 * output's gradient buffer over to t when t has no gradient yet and the buffer is the
 * context's (it is not needed after this backward anyway). Returns 1 when it did, 0 when
 * the kernel must write t's gradient itself. */
int qt_grad_hand_over(qt_ctx *c, qt_tensor *out, qt_tensor *t);

/* Seeds d(loss)/d(loss) = 1 (loss must have one element) and runs the tape backward. */
int qt_backward(qt_ctx *c, qt_tensor *loss, qt_error *err);
/* Runs the tape backward from `out` whose gradient the caller already set (gradient checks). */
int qt_backward_from(qt_ctx *c, qt_tensor *out, const float *dout, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif
