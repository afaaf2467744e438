/* Every zoo model shipped as a net file (configs/nets/) builds the same net as the zoo's C
 * builder: the same parameter count, parameter names in order and shapes, and after
 * qt_net_init_params with the same seed bitwise the same outputs on a fixed input, in training
 * (batch statistics, with a backward pass) and in inference (fused conv-bn-relu kernels).
 * Every .net file in configs/nets/ must be listed here. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/models.h"
#include "qtrain/net_file.h"

typedef struct zoo_case {
    const char *file;         /* under configs/nets/ */
    const char *zoo;
    char shortcut;
    int c, h, w, classes;
} zoo_case;

/* Inputs small enough for a few seconds in all; every net takes any size that its pools fit. */
static const zoo_case cases[] = {
    {"mlp.net", "mlp", 'A', 1, 28, 28, 10},
    {"convnet.net", "convnet", 'A', 1, 28, 28, 10},
    {"gpfq_cnn.net", "gpfq_cnn", 'A', 3, 32, 32, 10},
    {"vgg9.net", "vgg9", 'A', 3, 16, 16, 10},
    {"vgg_bc.net", "vgg_bc", 'A', 3, 16, 16, 10},
    {"resnet20.net", "resnet20", 'A', 3, 32, 32, 10},
    {"resnet56.net", "resnet56", 'A', 3, 16, 16, 100},
    {"resnet56_b.net", "resnet56", 'B', 3, 16, 16, 10},
    {"wrn56_2.net", "wrn56_2", 'A', 3, 8, 8, 10},
    {"resnet18.net", "resnet18", 'A', 3, 32, 32, 1000},
};

static const int mlp_widths[] = {500, 300};

static qt_model_spec spec_of(const zoo_case *z)
{
    qt_model_spec s = qt_model_spec_default(z->zoo, z->c, z->h, z->w, z->classes);
    s.shortcut = z->shortcut;
    s.widths = mlp_widths;
    s.nwidths = 2;
    return s;
}

static qt_net *zoo_net(const zoo_case *z)
{
    qt_error err;
    qt_model_spec s = spec_of(z);
    qt_net *net = qt_model_build(&s, &err);
    if (!net)
        fail_msg("zoo %s: %s", z->zoo, err.msg);
    return net;
}

static qt_net *file_net(const zoo_case *z)
{
    char path[1024];
    qt_error err;
    snprintf(path, sizeof path, "%s/configs/nets/%s", getenv("QTRAIN_SOURCE_ROOT"), z->file);
    qt_model_spec s = spec_of(z);
    qt_net *net = qt_net_file_load(path, &s, &err);
    if (!net)
        fail_msg("%s", err.msg);
    return net;
}

static void assert_same_params(const zoo_case *z, const qt_net *a, const qt_net *b)
{
    if (a->nparams != b->nparams)
        fail_msg("%s: %d parameters, the zoo's %s has %d", z->file, b->nparams, z->zoo, a->nparams);
    assert_int_equal(qt_net_param_count(a), qt_net_param_count(b));
    for (int i = 0; i < a->nparams; i++) {
        const qt_param *p = a->params[i], *q = b->params[i];
        if (strcmp(p->name, q->name))
            fail_msg("%s: parameter %d is %s, the zoo's is %s", z->file, i, q->name, p->name);
        assert_int_equal(p->role, q->role);
        assert_int_equal(p->fan_in, q->fan_in);
        assert_int_equal(p->t.ndim, q->t.ndim);
        for (int d = 0; d < p->t.ndim; d++)
            assert_int_equal(p->t.shape[d], q->t.shape[d]);
    }
    assert_int_equal(a->nlayers, b->nlayers);
}

/* Logits of net on a fixed batch of 2; in training also the input's gradient. */
static float *outputs(qt_net *net, const zoo_case *z, int training, size_t *n)
{
    qt_ctx c;
    qt_ctx_init(&c);
    c.training = c.grad_enabled = training;
    qt_tensor *x = qt_tensor_new4(&c, 2, z->c, z->h, z->w);
    for (size_t k = 0; k < x->numel; k++)
        x->data[k] = (float)((k * 7919) % 101) / 50.0f - 1.0f;
    x->requires_grad = training;
    qt_tensor *y = qt_net_forward(&c, net, x);
    if (!y)
        fail_msg("%s: %s", z->file, c.err.msg);
    *n = y->numel + (training ? x->numel : 0);
    float *out = malloc(*n * sizeof *out);
    memcpy(out, y->data, y->numel * sizeof *out);
    if (training) {
        qt_error err;
        float *dy = malloc(y->numel * sizeof *dy);
        for (size_t k = 0; k < y->numel; k++)
            dy[k] = (float)(k % 5) - 2.0f;
        if (qt_backward_from(&c, y, dy, &err) != QT_OK)
            fail_msg("%s: %s", z->file, err.msg);
        memcpy(out + y->numel, x->grad, x->numel * sizeof *out);
        free(dy);
    }
    qt_ctx_free(&c);
    return out;
}

static void test_files_build_the_zoo_nets(void **state)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const zoo_case *z = &cases[i];
        qt_net *a = zoo_net(z), *b = file_net(z);
        assert_same_params(z, a, b);
        qt_net_init_params(a, 7);
        qt_net_init_params(b, 7);
        for (int training = 0; training < 2; training++) {
            size_t na, nb;
            float *ya = outputs(a, z, training, &na), *yb = outputs(b, z, training, &nb);
            assert_int_equal(na, nb);
            if (memcmp(ya, yb, na * sizeof *ya))
                fail_msg("%s: %s outputs differ from the zoo's %s", z->file,
                         training ? "training" : "inference", z->zoo);
            free(ya);
            free(yb);
        }
        qt_net_free(a);
        qt_net_free(b);
    }
}

/* At the zoo's own input sizes the files give the parameter counts the zoo documents. */
static void test_file_parameter_counts(void **state)
{
    const struct {
        const char *file;
        int c, hw, classes;
        size_t params;
    } counts[] = {{"resnet20.net", 3, 32, 10, 269722}, {"resnet56.net", 3, 32, 10, 853018},
                  {"resnet56_b.net", 3, 32, 10, 853018 + 2752},
                  {"resnet18.net", 3, 224, 1000, 11689512}, {"vgg_bc.net", 3, 32, 10, 14029716}};
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) {
        zoo_case z = {counts[i].file, "x", 'A', counts[i].c, counts[i].hw, counts[i].hw,
                      counts[i].classes};
        qt_net *net = file_net(&z);
        if (qt_net_param_count(net) != counts[i].params)
            fail_msg("%s: %zu parameters, expected %zu", z.file, qt_net_param_count(net),
                     counts[i].params);
        qt_net_free(net);
    }
}

/* A file added to configs/nets/ without a case here would go untested. */
static void test_every_file_is_checked(void **state)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/configs/nets", getenv("QTRAIN_SOURCE_ROOT"));
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".net"))
            continue;
        files++;
        int listed = 0;
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
            listed |= !strcmp(cases[i].file, e->d_name);
        if (!listed)
            fail_msg("configs/nets/%s has no zoo case in tests/nn/test_zoo_files.c", e->d_name);
    }
    closedir(d);
    assert_int_equal(files, (int)(sizeof cases / sizeof *cases));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files_build_the_zoo_nets),
        cmocka_unit_test(test_file_parameter_counts),
        cmocka_unit_test(test_every_file_is_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
