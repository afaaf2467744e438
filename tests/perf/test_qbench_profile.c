/* qbench --profile: the JSON report holds every pass, whose times and the untracked rest add
 * up to the step time; every layer once; the conv shapes with their analytic GFLOP per step;
 * and the text report prints its three tables. Timings themselves are not checked. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/json.h"
#include "run_program.h"
#include "tmpdir.h"

/* resnet20 on 8x8 images, batch 3: the 16->16 convs (6 of them, 8x8 outputs) do
 * 2 * 3 * 16 * 16 * 9 * 64 FLOPs each per product. */
#define ARGS "--model resnet20 --image-size 8 --batch 3 --iters 2 --warmup 1 --threads 2 --profile"

static double number(const qt_json *v, const char *key)
{
    const qt_json *x = qt_json_get(v, key);
    assert_non_null(x);
    assert_int_equal(x->type, QT_JSON_NUMBER);
    return x->number;
}

static void test_json(void **state)
{
    char dir[256];
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    run_result r = run_program("src/cli/qbench", ARGS " --json", dir);
    assert_int_equal(r.status, 0);
    qt_json *doc;
    qt_error err;
    assert_int_equal(qt_json_parse(r.out, strlen(r.out), &doc, &err), QT_OK);
    const qt_json *p = qt_json_get(doc, "profile");
    assert_non_null(p);
    assert_true(number(p, "steps") == 2);
    const qt_json *passes = qt_json_get(p, "passes");
    assert_non_null(passes);
    assert_int_equal(passes->count, 8);
    double sum = number(p, "untracked_seconds_per_step");
    for (size_t k = 0; k < passes->count; k++)
        sum += number(&passes->items[k], "seconds_per_step");
    const double step = number(p, "seconds_per_step");
    assert_true(fabs(sum - step) <= 1e-9 * step);
    assert_true(number(p, "untracked_seconds_per_step") >= 0.0);
    /* resnet20: stem conv, bn, relu; 9 blocks of conv, bn, relu, conv, bn, add, relu; 2
     * shortcuts; global pool; fc */
    assert_int_equal(qt_json_get(p, "layers")->count, 3 + 9 * 7 + 2 + 2);
    const qt_json *shapes = qt_json_get(p, "conv_shapes");
    assert_int_equal(shapes->count, 6);
    int found = 0;
    for (size_t k = 0; k < shapes->count; k++) {
        const qt_json *s = &shapes->items[k];
        if (number(s, "cin") != 16 || number(s, "cout") != 16)
            continue;
        found = 1;
        assert_true(number(s, "layers") == 6);
        const double gflop = 6 * 2.0 * 3 * 16 * 16 * 9 * 64 * 1e-9;
        assert_true(fabs(number(s, "forward_gflop") - gflop) <= 1e-12);
        assert_true(fabs(number(s, "input_grad_gflop") - gflop) <= 1e-12);
        assert_true(fabs(number(s, "weight_grad_gflop") - gflop) <= 1e-12);
    }
    assert_true(found);
    qt_json_free(doc);
    run_result_free(&r);
    tmpdir_remove(dir);
}

static void test_text(void **state)
{
    char dir[256];
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    run_result r = run_program("src/cli/qbench", ARGS, dir);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\nprofile of 2 steps (batch 3): "));
    assert_non_null(strstr(r.out, "\npass "));
    assert_non_null(strstr(r.out, "\nweight gradient "));
    assert_non_null(strstr(r.out, "\nuntracked "));
    assert_non_null(strstr(r.out, "\nlayers, most time first"));
    assert_non_null(strstr(r.out, "\nlayer1.0.bn2 (+2 fused) "));
    assert_non_null(strstr(r.out, "\nconv shapes, most time first"));
    assert_non_null(strstr(r.out, "\n3x3/1 16->16, 8x8 "));
    assert_non_null(strstr(r.out, "\n3x3/2 16->32, 8x8 "));
    run_result_free(&r);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
