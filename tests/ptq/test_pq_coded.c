/* Product-quantized nets: the paper's size accounting (a hand-computed layer, and ResNet-18's
 * published 1.54 MB / 1.03 MB), the tied centroid update, and the saved model: indices and
 * fp16 centroids that load back to bit-identical logits, and corrupt indices rejected. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/models.h"
#include "qtrain/pq_net.h"
#include "qtrain/record_file.h"
#include "tmpdir.h"

/* conv1 (1 -> 4, 3x3) - relu - conv2 (4 -> 8, 3x3) - batchnorm - relu - flatten -
 * fc1 (288 -> 64) - relu - classifier (64 -> 3), on 1 x 6 x 6 images. */
static qt_net *small_net(uint64_t seed)
{
    qt_error err;
    qt_net *n = qt_net_new("small", 1, 6, 6, &err);
    int x = qt_net_conv(n, "conv1", QT_NET_INPUT, 4, 3, 1, 1, 1, &err);
    x = qt_net_relu(n, x, &err);
    x = qt_net_conv(n, "conv2", x, 8, 3, 1, 1, 0, &err);
    x = qt_net_batchnorm(n, "bn2", x, 0.1f, 1e-5f, &err);
    x = qt_net_relu(n, x, &err);
    x = qt_net_flatten(n, x, &err);
    x = qt_net_linear(n, "fc1", x, 64, 1, &err);
    x = qt_net_relu(n, x, &err);
    x = qt_net_linear(n, "classifier", x, 3, 1, &err);
    assert_true(x >= 0);
    n->num_classes = 3;
    qt_net_init_params(n, seed);
    return n;
}

static qt_calib_set random_images(int n, uint64_t seed)
{
    qt_calib_set cs = {malloc(sizeof(float) * n * 36), calloc((size_t)n, sizeof(int32_t)), n, 1, 6, 6};
    qt_rng r;
    qt_rng_seed(&r, seed);
    for (int i = 0; i < n * 36; i++)
        cs.x[i] = qt_rng_normal(&r);
    return cs;
}

/* Logits of net on the images (grad off, running statistics), into out (n x 3). */
static void logits(qt_net *net, const qt_calib_set *cs, float *out)
{
    qt_ctx c;
    qt_ctx_init(&c);
    c.grad_enabled = 0;
    c.training = 0;
    qt_tensor *y = qt_net_forward(&c, net, qt_tensor_wrap(&c, cs->x, 4, (int[]){cs->n, 1, 6, 6}));
    assert_non_null(y);
    memcpy(out, y->data, sizeof(float) * cs->n * 3);
    qt_ctx_free(&c);
}

/* One 3x3 conv of 64 -> 64 channels with d = 9, k = 256: 36,864 weights at log2(256)/9 bits
 * are 36,864 * 8/9 / 8 = 4,096 bytes of indices; 256 * 9 * 2 = 4,608 bytes of fp16
 * centroids; the first conv (3 * 64 * 9 = 1,728 weights) and its bias (64) stay float at
 * 4 bytes each, and the second conv's bias (64) too: (1,728 + 64 + 64) * 4 = 7,424. */
static void test_size_of_a_known_layer(void **state)
{
    qt_error err;
    qt_net *n = qt_net_new("two", 3, 8, 8, &err);
    int x = qt_net_conv(n, "conv1", QT_NET_INPUT, 64, 3, 1, 1, 1, &err);
    x = qt_net_conv(n, "conv2", x, 64, 3, 1, 1, 1, &err);
    assert_true(x >= 0);
    qt_pq_blocks b = qt_pq_blocks_default();
    qt_pq_net pq;
    assert_int_equal(qt_pq_net_plan(n, NULL, &b, 1, &pq, &err), QT_OK);
    assert_int_equal(pq.n, 1);
    assert_int_equal(pq.layers[0].shape.k, 256);     /* 4096 subvectors: no clamp */
    qt_pq_size z;
    qt_pq_net_size(n, &pq, &z);
    assert_true(z.index_bytes == 4096.0);
    assert_true(z.centroid_bytes == 4608.0);
    assert_true(z.other_bytes == 7424.0);
    assert_true(z.total_bytes == 4096.0 + 4608.0 + 7424.0);
    assert_true(z.float_bytes == 4.0 * (1728 + 64 + 36864 + 64));
    assert_float_equal(z.ratio, z.float_bytes / z.total_bytes, 1e-12);
    qt_pq_net_free(&pq);
    qt_net_free(n);
}

/* ResNet-18 (1000 classes) as the paper counts it, bytes worked out by hand:
 *   3x3 convs but the first: 10,985,472 weights; 1x1 shortcuts 172,032; fc 512,000;
 *   small blocks: index 10,985,472 / 9 + 172,032 / 4 + 512,000 * 11/32 = 1,439,616 bytes,
 *     centroids 16 * 256*9*2 + 3 * 256*4*2 + 2048*4*2 = 96,256;
 *   large blocks (d = 18): index 829,312, centroids 169,984;
 *   other: the 20,008 remaining parameters at 4 bytes = 80,032.
 * In MB (2^20): 1.373 + 0.092 + 0.076 = 1.54 and 0.791 + 0.162 + 0.076 = 1.03, of 44.59. */
static void test_resnet18_size_matches_the_paper(void **state)
{
    qt_error err;
    qt_model_spec spec = qt_model_spec_default("resnet18", 3, 224, 224, 1000);
    qt_net *net = qt_model_build(&spec, &err);
    assert_non_null(net);
    qt_pq_blocks b = qt_pq_blocks_default();
    qt_pq_net pq;
    qt_pq_size z;
    assert_int_equal(qt_pq_net_plan(net, NULL, &b, 1, &pq, &err), QT_OK);
    assert_int_equal(pq.n, 20);   /* 16 3x3 convs, 3 shortcuts, fc */
    qt_pq_net_size(net, &pq, &z);
    qt_pq_net_free(&pq);
    assert_true(z.index_bytes == 1439616.0);
    assert_true(z.centroid_bytes == 96256.0);
    assert_true(z.other_bytes == 80032.0);
    char mb[64];
    snprintf(mb, sizeof mb, "%.2f %.2f %.0f", qt_pq_mb(z.total_bytes), qt_pq_mb(z.float_bytes), z.ratio);
    assert_string_equal(mb, "1.54 44.59 29");
    b.conv_d = 18;
    assert_int_equal(qt_pq_net_plan(net, NULL, &b, 1, &pq, &err), QT_OK);
    qt_pq_net_size(net, &pq, &z);
    qt_pq_net_free(&pq);
    assert_true(z.index_bytes == 829312.0 && z.centroid_bytes == 169984.0);
    snprintf(mb, sizeof mb, "%.2f %.0f", qt_pq_mb(z.total_bytes), z.ratio);
    assert_string_equal(mb, "1.03 43");
    qt_net_free(net);
}

/* Subvectors 0 and 1 share centroid 0, subvector 2 has centroid 1: the step moves centroid 0
 * by lr times the mean of the first two gradients, and the decoded weights of rows 0 and 1
 * stay equal. Momentum 0.9 makes the second step 1.9 times the first. */
static void test_centroid_step_is_shared(void **state)
{
    qt_param *p = qt_param_new("w", QT_PARAM_WEIGHT, 2, (int[]){3, 2});
    float cent[4] = {1.0f, 1.0f, -1.0f, 2.0f}, buf[4] = {0}, grad[6] = {1, 2, 3, 4, 5, 6};
    int32_t assign[3] = {0, 0, 1};
    qt_pq_layer l = {0, p, {3, 2, 2, 1, 2}, cent, assign};
    qt_error err;
    assert_int_equal(qt_pq_centroid_step(&l, grad, 0.1, 0.9, 0.0, buf, &err), QT_OK);
    assert_float_equal(cent[0], 1.0 - 0.1 * 2.0, 1e-6);
    assert_float_equal(cent[1], 1.0 - 0.1 * 3.0, 1e-6);
    assert_float_equal(cent[2], -1.0 - 0.1 * 5.0, 1e-6);
    assert_memory_equal(p->t.data, p->t.data + 2, 2 * sizeof(float));
    assert_memory_equal(p->t.data, cent, 2 * sizeof(float));
    assert_memory_equal(p->t.data + 4, cent + 2, 2 * sizeof(float));
    assert_int_equal(qt_pq_centroid_step(&l, grad, 0.1, 0.9, 0.0, buf, &err), QT_OK);
    assert_float_equal(cent[0], 0.8 - 0.1 * 3.8, 1e-6);
    /* weight decay adds wd * c to the averaged gradient */
    float before = cent[3];
    memset(buf, 0, sizeof buf);
    assert_int_equal(qt_pq_centroid_step(&l, grad, 0.1, 0.0, 0.5, buf, &err), QT_OK);
    assert_float_equal(cent[3], before - 0.1 * (6.0 + 0.5 * before), 1e-5);
    qt_param_free(p);
}

/* PQ of the small net (with both finetuning stages: batchnorm statistics frozen in the first,
 * updated in the second), saved and loaded into a net built with other weights: the loaded weights and the logits are bit for bit those of the quantized
 * net in memory, and the file holds indices (u8, or u16 past 256 centroids) and fp16
 * centroids instead of the quantized weights. */
static void test_save_load_round_trip(void **state)
{
    char dir[256], path[512];
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/model.qtr", dir);
    qt_net *qnet = small_net(1), *loaded = small_net(2);
    qt_calib_set cs = random_images(64, 3);
    qt_pq_opts o = qt_pq_defaults();
    o.em.iters = 5;
    o.em.sample = 256;
    o.layer_ft.steps = o.global_ft.steps = 3;
    o.layer_ft.batch = o.global_ft.batch = 16;
    qt_error err;
    float *teacher = NULL;
    qt_pq_net pq;
    qt_pq_layer_report *reps;
    qt_pq_finetune_stats gs;
    const qt_bn_stats *bn = &qnet->layers[3].bn;
    float mean0[8];
    memcpy(mean0, bn->running_mean, sizeof mean0);
    assert_int_equal(qt_pq_teacher_logits(qnet, &cs, &teacher, &err), QT_OK);
    assert_int_equal(qt_pq_quantize_layers(qnet, &cs, teacher, &o, &pq, &reps, &err), QT_OK);
    /* the layer stage keeps batchnorm's statistics, the global stage (training mode) moves them */
    assert_memory_equal(bn->running_mean, mean0, sizeof mean0);
    assert_int_equal(qt_pq_finetune_global(qnet, &pq, &cs, teacher, &o, &gs, &err), QT_OK);
    assert_memory_not_equal(bn->running_mean, mean0, sizeof mean0);
    assert_int_equal(pq.n, 3);    /* conv1 stays float */
    assert_string_equal(reps[0].name, "conv2");
    assert_int_equal(reps[0].shape.k, 4);   /* 32 subvectors: 8 -> 4 */
    assert_int_equal(pq.layers[1].shape.k, 1024);
    qt_checkpoint_extra extra = qt_pq_net_writer(&pq);
    assert_int_equal(qt_checkpoint_save(path, qnet, NULL, NULL, NULL, &extra, &err), QT_OK);
    /* the checkpoint code alone knows no PQ records: without the reader the load fails */
    assert_int_equal(qt_checkpoint_load(path, loaded, NULL, NULL, &err), QT_ERR);
    char want[700];
    snprintf(want, sizeof want, "%s: no record \"param/conv2.weight.index\"", path);
    assert_string_equal(err.msg, want);
    qt_checkpoint_extra reader = qt_pq_checkpoint_reader();
    assert_int_equal(qt_checkpoint_load_with(path, loaded, NULL, NULL, &reader, &err), QT_OK);
    for (int i = 0; i < qnet->nparams; i++)
        assert_memory_equal(qnet->params[i]->t.data, loaded->params[i]->t.data,
                            qnet->params[i]->t.numel * sizeof(float));
    float a[64 * 3], b[64 * 3];
    logits(qnet, &cs, a);
    logits(loaded, &cs, b);
    assert_memory_equal(a, b, sizeof a);

    qt_record_file *f;
    const qt_record *r;
    assert_int_equal(qt_record_file_open(&f, path, &err), QT_OK);
    assert_null(qt_record_file_find(f, "param/conv2.weight"));
    assert_non_null(qt_record_file_find(f, "param/conv1.weight"));
    assert_int_equal(qt_record_file_get(f, "param/conv2.weight.pq_index", QT_REC_U8, 2, (int64_t[]){8, 4}, &r, &err), QT_OK);
    assert_int_equal(qt_record_file_get(f, "param/conv2.weight.pq_centroids", QT_REC_F16, 2, (int64_t[]){4, 9}, &r, &err), QT_OK);
    assert_int_equal(qt_record_file_get(f, "param/fc1.weight.pq_index", QT_REC_U16, 2, (int64_t[]){64, 72}, &r, &err), QT_OK);
    qt_record_file_close(f);

    free(reps);
    free(teacher);
    qt_pq_net_free(&pq);
    qt_calib_free(&cs);
    qt_net_free(qnet);
    qt_net_free(loaded);
    tmpdir_remove(dir);
}

/* An index past the codebook is rejected with a message naming the record, and the net is
 * left as it was. */
static void test_corrupt_index_is_rejected(void **state)
{
    char dir[256], path[512], want[700];
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/bad.qtr", dir);
    qt_net *net = small_net(1), *target = small_net(2);
    qt_pq_blocks b = qt_pq_blocks_default();
    qt_pq_net pq;
    qt_error err;
    assert_int_equal(qt_pq_net_plan(net, NULL, &b, 1, &pq, &err), QT_OK);
    pq.layers[0].assign[5] = 9;   /* conv2 has 4 centroids */
    qt_checkpoint_extra extra = qt_pq_net_writer(&pq);
    assert_int_equal(qt_checkpoint_save(path, net, NULL, NULL, NULL, &extra, &err), QT_OK);
    float before = target->params[0]->t.data[0];
    assert_int_equal(qt_checkpoint_load_with(path, target, NULL, NULL, &extra, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: param/conv2.weight.pq_index: index 9 of a 4-centroid codebook", path);
    assert_string_equal(err.msg, want);
    assert_true(target->params[0]->t.data[0] == before);
    qt_pq_net_free(&pq);
    qt_net_free(net);
    qt_net_free(target);
    tmpdir_remove(dir);
}

/* Block sizes by kind of layer, and one that does not divide the fan-in. */
static void test_layer_shapes(void **state)
{
    qt_error err;
    qt_net *n = qt_net_new("kinds", 6, 4, 4, &err);
    int x = qt_net_conv(n, "pw", QT_NET_INPUT, 64, 1, 1, 0, 0, &err);
    x = qt_net_flatten(n, x, &err);
    x = qt_net_linear(n, "fc", x, 10, 1, &err);
    assert_true(x >= 0);
    qt_pq_blocks b = qt_pq_blocks_default();
    qt_pq_shape s;
    assert_int_equal(qt_pq_layer_shape(n, 0, &b, &s, &err), QT_ERR);  /* 6 inputs, d = 4 */
    assert_string_equal(err.msg, "pw: block size 4 does not divide the 6 weights of each output");
    b.pw_d = 3;
    assert_int_equal(qt_pq_layer_shape(n, 0, &b, &s, &err), QT_OK);
    assert_int_equal(s.d, 3);
    assert_int_equal(s.n_blocks, 2);
    assert_int_equal(s.k, 16);     /* 128 subvectors: below 32 */
    assert_int_equal(qt_pq_layer_shape(n, 2, &b, &s, &err), QT_OK);
    assert_int_equal(s.d, 4);      /* linear: fc_d */
    assert_int_equal(s.fan_in, 1024);
    assert_int_equal(s.k, 512);    /* 2560 subvectors: below 640 */
    qt_net_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_of_a_known_layer),
        cmocka_unit_test(test_resnet18_size_matches_the_paper),
        cmocka_unit_test(test_centroid_step_is_shared),
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_corrupt_index_is_rejected),
        cmocka_unit_test(test_layer_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
