// The public API from C++: the umbrella header compiles as C++ (every header declares its
// functions extern "C", so they link against the C library), the version macros agree with
// the project's version, and a net built and run from C++ computes what a hand computation
// says.
#include <cmath>
#include <cstddef>
#include <cstring>
#include <setjmp.h>
#include <stdarg.h>

extern "C" {
#include <cmocka.h>
}

#include "qtrain/qtrain.h"

static void test_version_macros(void **state)
{
    (void)state;
    assert_string_equal(QTRAIN_VERSION_STRING, QT_PROJECT_VERSION);
    assert_int_equal(QTRAIN_VERSION, 10000 * QTRAIN_VERSION_MAJOR + 100 * QTRAIN_VERSION_MINOR +
                                         QTRAIN_VERSION_PATCH);
}

// flatten -> linear (3 -> 2) on one 3x1x1 image: y = W x + b.
static void test_linear_net_from_cxx(void **state)
{
    (void)state;
    qt_error err;
    qt_net *net = qt_net_new("cxx", 3, 1, 1, &err);
    assert_non_null(net);
    net->num_classes = 2;
    int x = qt_net_flatten(net, QT_NET_INPUT, &err);
    assert_true(x >= 0);
    int fc = qt_net_linear(net, "fc", x, 2, 1, &err);
    assert_true(fc >= 0);
    const float w[6] = {1.0f, -2.0f, 0.5f, 3.0f, 0.0f, -1.0f}, b[2] = {0.25f, -0.5f};
    std::memcpy(net->layers[fc].weight->t.data, w, sizeof w);
    std::memcpy(net->layers[fc].bias->t.data, b, sizeof b);

    qt_ctx c;
    qt_ctx_init(&c);
    qt_ctx_reset(&c);
    c.grad_enabled = 0;
    c.training = 0;
    float in[3] = {2.0f, 1.0f, 4.0f};
    int shape[4] = {1, 3, 1, 1};
    qt_tensor *y = qt_net_forward(&c, net, qt_tensor_wrap(&c, in, 4, shape));
    assert_non_null(y);
    assert_int_equal(y->numel, 2);
    assert_true(std::fabs(y->data[0] - (2.0f - 2.0f + 2.0f + 0.25f)) < 1e-6f);
    assert_true(std::fabs(y->data[1] - (6.0f + 0.0f - 4.0f - 0.5f)) < 1e-6f);
    qt_ctx_free(&c);
    qt_net_free(net);
}

int main()
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_macros),
        cmocka_unit_test(test_linear_net_from_cxx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
