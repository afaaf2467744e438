/* qtrain as a library: builds a small conv net, trains it with BinaryConnect (binary weights
 * behind a float buffer) for a few hundred steps on a toy task made here, and evaluates the
 * binary net on images it has not seen.
 *
 * The task: 8x8 images holding one bright bar, horizontal (class 0) or vertical (class 1), at
 * a random position, in noise. Chance is 50%.
 *
 * Build against an installed qtrain:
 *   cc train_bc.c $(pkg-config --cflags --libs qtrain) -o train_bc
 * Prints "test accuracy A (chance 0.50)" and exits 0, or one error line and exits 1. */
#include <stdio.h>
#include <stdlib.h>

#include "qtrain/qtrain.h"

enum { SIDE = 8, TRAIN_BATCH = 32, STEPS = 300, TEST_IMAGES = 512 };

/* n images (1 x SIDE x SIDE) and their labels, drawn from stream `split` of seed. */
static void make_bars(float *x, int32_t *y, int n, uint64_t seed, uint64_t split)
{
    qt_rng r;
    qt_rng_derive(&r, seed, split, 0);
    for (int i = 0; i < n; i++) {
        float *img = x + (size_t)i * SIDE * SIDE;
        int label = (int)qt_rng_below(&r, 2), at = (int)qt_rng_below(&r, SIDE);
        for (int p = 0; p < SIDE * SIDE; p++)
            img[p] = 0.3f * qt_rng_normal(&r);
        for (int k = 0; k < SIDE; k++)
            img[label ? k * SIDE + at : at * SIDE + k] += 1.0f;
        y[i] = label;
    }
}

/* conv 3x3 (8) -> batchnorm -> relu -> global average pool -> linear (2) */
static qt_net *build_net(qt_error *err)
{
    qt_net *net = qt_net_new("bars", 1, SIDE, SIDE, err);
    if (!net)
        return NULL;
    net->num_classes = 2;
    int x = qt_net_conv(net, "conv1", QT_NET_INPUT, 8, 3, 1, 1, 0, err);
    if (x >= 0)
        x = qt_net_batchnorm(net, "bn1", x, 0.1f, 1e-5f, err);
    if (x >= 0)
        x = qt_net_relu(net, x, err);
    if (x >= 0)
        x = qt_net_global_avgpool(net, x, err);
    if (x >= 0)
        x = qt_net_linear(net, "fc", x, 2, 1, err);
    if (x < 0) {
        qt_net_free(net);
        return NULL;
    }
    return net;
}

/* BinaryConnect (deterministic sign) on the conv; the classifier stays float. */
static int make_binary(qt_net *net, uint64_t seed, qt_error *err)
{
    qt_quant_config q = {
        .mode = QT_QUANT_BC, .grid = QT_GRID_BINARY, .bits = 1,
        .scale = QT_SCALE_MEAN_ABS, .scale_value = 1.0f,
        .quantize_first = 1, .quantize_last = 0,
    };
    qt_net_init_params(net, seed);
    return qt_quant_attach(net, &q, seed, err);
}

static int train(qt_ctx *c, qt_net *net, uint64_t seed, qt_error *err)
{
    static float x[TRAIN_BATCH * SIDE * SIDE];
    static int32_t y[TRAIN_BATCH];
    qt_optimizer opt = qt_optimizer_adam(0.9f, 0.999f, 1e-8f, 0.0f);
    for (int i = 0; i < net->nparams; i++)
        if (qt_optimizer_init_state(&opt, net->params[i], err) != QT_OK)
            return QT_ERR;
    for (int step = 0; step < STEPS; step++) {
        qt_batch_result r;
        make_bars(x, y, TRAIN_BATCH, seed, 1000 + (uint64_t)step);
        if (qt_train_step(c, net, &opt, 0.01f, QT_LOSS_CROSS_ENTROPY, x, y, TRAIN_BATCH, seed,
                          (uint64_t)step, &r, err) != QT_OK)
            return QT_ERR;
    }
    return QT_OK;
}

/* Accuracy of the binary net (QT_VIEW_EVAL: sign of the float buffer) on unseen images. */
static int evaluate(qt_ctx *c, qt_net *net, uint64_t seed, double *acc, qt_error *err)
{
    static float x[TEST_IMAGES * SIDE * SIDE];
    static int32_t y[TEST_IMAGES];
    qt_batch_result r;
    make_bars(x, y, TEST_IMAGES, seed, 1);
    if (qt_eval_batch(c, net, QT_VIEW_EVAL, QT_LOSS_CROSS_ENTROPY, x, y, TEST_IMAGES, &r,
                      err) != QT_OK)
        return QT_ERR;
    *acc = (double)r.correct / r.n;
    return QT_OK;
}

int main(void)
{
    const uint64_t seed = 7;
    qt_error err;
    qt_ctx c;
    double acc = 0.0;
    qt_ctx_init(&c);
    qt_net *net = build_net(&err);
    int rc = net ? make_binary(net, seed, &err) : QT_ERR;
    if (rc == QT_OK)
        rc = train(&c, net, seed, &err);
    if (rc == QT_OK)
        rc = evaluate(&c, net, seed, &acc, &err);
    qt_net_free(net);
    qt_ctx_free(&c);
    if (rc != QT_OK) {
        fprintf(stderr, "train_bc: error: %s\n", err.msg);
        return 1;
    }
    printf("qtrain %s: test accuracy %.4f (chance 0.50)\n", QTRAIN_VERSION_STRING, acc);
    return 0;
}
