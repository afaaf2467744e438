/* Deployment files: code packing (bit order as documented), `qtrain eval --weights` on float
 * and packed exports giving the checkpoint's accuracy and loss exactly (BC, SR ternary,
 * R 4-bit, FP; BC's float buffer too), and clear errors for files it cannot use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "qtrain/code_pack.h"
#include "qtrain/checkpoint.h"
#include "qtrain/export.h"
#include "qtrain/export_meta.h"
#include "qtrain/net.h"
#include "qtrain/quant.h"
#include "qtrain/rng.h"
#include "qtrain/safetensors.h"
#include "qtrain/trainer.h"
#include "run_program.h"
#include "tmpdir.h"

static int have_fmnist(void)
{
    struct stat sb;
    return stat("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", &sb) == 0;
}

/* ---- packing ---- */

static void check_bytes(qt_pack_kind k, const int8_t *codes, size_t n, const uint8_t *want,
                        size_t nbytes)
{
    uint8_t got[16];
    int8_t back[64];
    qt_error err;
    assert_int_equal(qt_pack_bytes(k, n), nbytes);
    assert_int_equal(qt_pack_codes(k, codes, n, got, &err), QT_OK);
    assert_memory_equal(got, want, nbytes);
    qt_unpack_codes(k, got, n, back);
    assert_memory_equal(back, codes, n);
}

/* The documented layout: code i at bit i*b, least significant first, two's complement. */
static void test_pack_layout(void **state)
{
    check_bytes(QT_PACK_BITS1, (int8_t[]){1, -1, -1, 1, 1, 1, -1, -1, 1}, 9,
                (uint8_t[]){0x39, 0x01}, 2);
    check_bytes(QT_PACK_INT2, (int8_t[]){1, -1, 0, -2, 1}, 5, (uint8_t[]){0x8d, 0x01}, 2);
    check_bytes(QT_PACK_INT4, (int8_t[]){-8, 7, -1}, 3, (uint8_t[]){0x78, 0x0f}, 2);
    check_bytes(QT_PACK_INT8, (int8_t[]){-127, 127}, 2, (uint8_t[]){0x81, 0x7f}, 2);
    uint8_t out[2];
    qt_error err;
    assert_int_equal(qt_pack_codes(QT_PACK_BITS1, (int8_t[]){1, 0}, 2, out, &err), QT_ERR);
    assert_string_equal(err.msg, "code 0 at 1 does not fit bits1 packing");
    assert_int_equal(qt_pack_codes(QT_PACK_INT4, (int8_t[]){8}, 1, out, &err), QT_ERR);
}

/* Each grid gets the narrowest packing that holds its codes, and random codes survive it. */
static void test_pack_grids(void **state)
{
    static const struct {
        qt_grid_kind kind;
        int bits;
        qt_pack_kind want;
    } cases[] = {{QT_GRID_BINARY, 1, QT_PACK_BITS1}, {QT_GRID_TERNARY, 2, QT_PACK_INT2},
                 {QT_GRID_UNIFORM, 2, QT_PACK_INT2},  {QT_GRID_UNIFORM, 3, QT_PACK_INT4},
                 {QT_GRID_UNIFORM, 4, QT_PACK_INT4},  {QT_GRID_UNIFORM, 5, QT_PACK_INT8},
                 {QT_GRID_UNIFORM, 8, QT_PACK_INT8},  {QT_GRID_UNBOUNDED, 8, QT_PACK_INT8}};
    qt_rng r;
    qt_rng_derive(&r, 3, 0, 0);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        qt_grid g;
        qt_error err;
        assert_int_equal(qt_grid_make(&g, cases[c].kind, cases[c].bits, 1.0f, &err), QT_OK);
        assert_int_equal(qt_pack_for_grid(&g), cases[c].want);
        enum { N = 1001 };
        int8_t codes[N], back[N];
        uint8_t packed[N];
        for (int i = 0; i < N; i++)
            codes[i] = (int8_t)(g.code0 + g.code_step * (int)(qt_rng_uniform(&r) * g.levels));
        assert_int_equal(qt_pack_codes(cases[c].want, codes, N, packed, &err), QT_OK);
        qt_unpack_codes(cases[c].want, packed, N, back);
        assert_memory_equal(back, codes, N);
    }
}

/* ---- eval --weights ---- */

static void config_for(qt_config *c, const char *model, const char *const *sets, int n)
{
    qt_error err;
    char name[64];
    const char *base[] = {"data.dataset=fashion_mnist", "data.train_limit=600",
                          "data.test_limit=300", "data.augment=false", "train.epochs=1",
                          "train.max_steps=12", "train.batch_size=50", "train.lr=0.003",
                          "train.threads=1"};
    qt_config_defaults(c);
    snprintf(name, sizeof name, "model.name=%s", model);
    assert_int_equal(qt_config_set_arg(c, name, &err), QT_OK);
    for (size_t i = 0; i < sizeof base / sizeof *base; i++)
        assert_int_equal(qt_config_set_arg(c, base[i], &err), QT_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(qt_config_set_arg(c, sets[i], &err), QT_OK);
    assert_int_equal(qt_config_validate(c, &err), QT_OK);
}

static void train(const qt_config *c, const char *dir, char *ck, size_t n)
{
    qt_train_opts o = {.run_dir = dir};
    qt_train_summary s;
    qt_error err;
    char cdir[700];
    if (qt_train(c, &o, &s, &err) != QT_OK)
        fail_msg("%s", err.msg);
    snprintf(cdir, sizeof cdir, "%s/checkpoints", dir);
    assert_int_equal(qt_checkpoint_find_latest(cdir, ck, n, NULL, 0, &err), QT_OK);
}

static void export_to(const qt_config *c, const char *ck, const char *path, int packed,
                      int float_buffer)
{
    qt_export_opts o = {QT_EXPORT_SAFETENSORS, packed, float_buffer, 0, 0};
    qt_error err;
    if (qt_export_checkpoint(c, ck, NULL, &o, path, &err) != QT_OK)
        fail_msg("%s", err.msg);
}

static void same_result(const qt_config *c, const char *ck, const char *path, int float_view)
{
    static const char *const limit[] = {"data.test_limit=300"};
    qt_eval_result a, b;
    qt_error err;
    if (qt_eval_checkpoint(c, ck, NULL, float_view, &a, &err) != QT_OK ||
        qt_eval_weights(path, limit, 1, float_view, &b, &err) != QT_OK)
        fail_msg("%s", err.msg);
    print_message("%s%s: checkpoint acc %.4f loss %.6f, file acc %.4f loss %.6f\n", path,
                  float_view ? " (float buffer)" : "", a.acc, a.loss, b.acc, b.loss);
    assert_int_equal(a.images, 300);
    assert_int_equal(b.images, 300);
    assert_true(a.acc == b.acc);
    assert_true(a.loss == b.loss);
}

/* Trains model under sets, exports float and packed, and checks eval of each file against the
 * checkpoint's. */
static void check_round_trip(const char *model, const char *const *sets, int n, int bc)
{
    char dir[512], run[600], ck[800], f[700], p[700], pb[700];
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    snprintf(run, sizeof run, "%s/run", dir);
    qt_config c;
    config_for(&c, model, sets, n);
    train(&c, run, ck, sizeof ck);
    snprintf(f, sizeof f, "%s/float.safetensors", dir);
    snprintf(p, sizeof p, "%s/packed.safetensors", dir);
    export_to(&c, ck, f, 0, 0);
    export_to(&c, ck, p, 1, 0);
    same_result(&c, ck, f, 0);
    same_result(&c, ck, p, 0);
    if (bc) {
        snprintf(pb, sizeof pb, "%s/buffer.safetensors", dir);
        export_to(&c, ck, pb, 1, 1);
        same_result(&c, ck, pb, 0);
        same_result(&c, ck, pb, 1);
        qt_eval_result r;
        qt_error err;
        assert_int_equal(qt_eval_weights(p, NULL, 0, 1, &r, &err), QT_ERR);
        char want[900];
        snprintf(want, sizeof want, "%s: --float: the file holds no float buffer (export a BC "
                 "net with --float-buffer)", p);
        assert_string_equal(err.msg, want);
    }
    tmpdir_remove(dir);
}

static void test_weights_bc_convnet(void **state)
{
    if (!have_fmnist())
        skip();
    static const char *const sets[] = {"quant.mode=bc"};
    check_round_trip("convnet", sets, 1, 1);
}

static void test_weights_sr_ternary_resnet(void **state)
{
    if (!have_fmnist())
        skip();
    static const char *const sets[] = {"quant.mode=sr", "quant.grid=ternary", "quant.bits=2",
                                       "train.max_steps=4"};
    check_round_trip("resnet8", sets, 4, 0);
}

static void test_weights_r_uniform4_mlp(void **state)
{
    if (!have_fmnist())
        skip();
    static const char *const sets[] = {"quant.mode=r", "quant.grid=uniform", "quant.bits=4",
                                       "model.widths=64", "quant.quantize_first=false"};
    check_round_trip("mlp", sets, 5, 0);
}

static void test_weights_fp_mlp(void **state)
{
    if (!have_fmnist())
        skip();
    static const char *const sets[] = {"model.widths=32,16"};
    check_round_trip("mlp", sets, 1, 0);
}

static const char *st_meta(const void *st, const char *key)
{
    return qt_safetensors_metadata(st, key);
}

/* A net file with a 4-bit first layer in a binary BC net: the export records the file's
 * text, so eval --weights rebuilds the mixed-precision net without the file. */
static void test_weights_net_file_mixed(void **state)
{
    if (!have_fmnist())
        skip();
    static const char net_text[] =
        "[conv]\nname = conv1\nout = 8\nk = 3\npad = 1\nbits = 4\n"
        "[bn]\nname = bn1\n[relu]\n[maxpool]\nk = 2\nstride = 2\n"
        "[flatten]\n[linear]\nname = fc\nout = classes\n";
    char dir[512], net[600], set[700], run[600], ck[800], p[700];
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    snprintf(net, sizeof net, "%s/mixed.net", dir);
    FILE *f = fopen(net, "w");
    assert_non_null(f);
    fputs(net_text, f);
    fclose(f);
    snprintf(set, sizeof set, "model.file=%s", net);
    const char *const sets[] = {set, "quant.mode=bc"};
    qt_config c;
    config_for(&c, "convnet", sets, 2);
    snprintf(run, sizeof run, "%s/run", dir);
    train(&c, run, ck, sizeof ck);
    snprintf(p, sizeof p, "%s/packed.safetensors", dir);
    export_to(&c, ck, p, 1, 0);
    assert_int_equal(remove(net), 0);
    same_result(&c, ck, p, 0);
    qt_config wc;
    qt_net *built;
    qt_error err;
    qt_safetensors *st;
    assert_int_equal(qt_safetensors_open(&st, p, &err), QT_OK);
    assert_int_equal(qt_export_meta_config(st_meta, st, p, NULL, 0, &wc, &err), QT_OK);
    assert_int_equal(qt_export_meta_build_net(st_meta, st, p, &wc, &built, &err), QT_OK);
    qt_safetensors_close(st);
    assert_int_equal(built->params[0]->q->grid.levels, 15);
    assert_int_equal(qt_net_find_param(built, "fc.weight")->q->grid.levels, 2);
    qt_net_free(built);
    tmpdir_remove(dir);
}

/* The program prints the same line for the checkpoint and for the packed file. */
static void test_cli_eval_weights(void **state)
{
    if (!have_fmnist())
        skip();
    char dir[512], run[600], ck[800], args[2400];
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    snprintf(run, sizeof run, "%s/run", dir);
    qt_config c;
    static const char *const sets[] = {"quant.mode=bc", "model.widths=32"};
    config_for(&c, "mlp", sets, 2);
    train(&c, run, ck, sizeof ck);
    snprintf(args, sizeof args, "export --checkpoint '%s' --packed --float-buffer --out '%s/w.st'",
             ck, dir);
    run_result r = run_program("src/cli/qtrain", args, dir);
    assert_int_equal(r.status, 0);
    run_result_free(&r);
    for (int fv = 0; fv < 2; fv++) {
        snprintf(args, sizeof args, "eval --checkpoint '%s'%s", ck, fv ? " --float" : "");
        run_result a = run_program("src/cli/qtrain", args, dir);
        snprintf(args, sizeof args, "eval --weights '%s/w.st' --set data.test_limit=300%s", dir,
                 fv ? " --float" : "");
        run_result b = run_program("src/cli/qtrain", args, dir);
        assert_int_equal(a.status, 0);
        assert_int_equal(b.status, 0);
        assert_string_equal(a.out, b.out);
        run_result_free(&a);
        run_result_free(&b);
    }
    tmpdir_remove(dir);
}

/* A file without qtrain's metadata, and one whose tensor lost a byte, are named errors. */
static void test_weights_errors(void **state)
{
    char dir[512], path[700], want[1000];
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/plain.safetensors", dir);
    float v[2] = {1, 2};
    qt_st_tensor t = {"w", QT_ST_F32, 1, {2}, v, 0};
    qt_error err;
    assert_int_equal(qt_safetensors_write(path, &t, 1, NULL, 0, &err), QT_OK);
    qt_config c;
    qt_net *net;
    assert_int_equal(qt_open_weights_net(path, NULL, 0, &c, &net, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: no \"architecture\" in the metadata (not a qtrain export of "
             "format version 2?)", path);
    assert_string_equal(err.msg, want);
    tmpdir_remove(dir);
    if (!have_fmnist())
        return;
    /* A convnet export whose conv2 codes are one byte short. */
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    char run[600], ck[800], p[700];
    snprintf(run, sizeof run, "%s/run", dir);
    static const char *const sets[] = {"quant.mode=bc", "train.max_steps=1"};
    config_for(&c, "convnet", sets, 2);
    train(&c, run, ck, sizeof ck);
    snprintf(p, sizeof p, "%s/p.safetensors", dir);
    export_to(&c, ck, p, 1, 0);
    qt_safetensors *st;
    assert_int_equal(qt_safetensors_open(&st, p, &err), QT_OK);
    int n = qt_safetensors_count(st);
    qt_st_tensor *ts = calloc((size_t)n, sizeof *ts);
    const char *meta[2 * 16];
    const char *keys[] = {"format", "format_version", "model", "quant_mode", "architecture",
                          "quantization", "data", "input_normalization", "class_names",
                          "quantized", "quantized_tensors"};
    int nm = sizeof keys / sizeof *keys;
    for (int i = 0; i < nm; i++) {
        meta[2 * i] = keys[i];
        meta[2 * i + 1] = qt_safetensors_metadata(st, keys[i]);
    }
    for (int i = 0; i < n; i++) {
        ts[i] = *qt_safetensors_at(st, i);
        if (strcmp(ts[i].name, "conv2.weight") == 0)
            ts[i].shape[0]--;
    }
    snprintf(path, sizeof path, "%s/short.safetensors", dir);
    assert_int_equal(qt_safetensors_write(path, ts, n, meta, nm, &err), QT_OK);
    qt_safetensors_close(st);
    free(ts);
    assert_int_equal(qt_open_weights_net(path, NULL, 0, &c, &net, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: tensor \"conv2.weight\" is U8 of 2303 bytes, expected U8 of "
             "2304 bytes", path);
    assert_string_equal(err.msg, want);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_layout),
        cmocka_unit_test(test_pack_grids),
        cmocka_unit_test(test_weights_bc_convnet),
        cmocka_unit_test(test_weights_sr_ternary_resnet),
        cmocka_unit_test(test_weights_r_uniform4_mlp),
        cmocka_unit_test(test_weights_fp_mlp),
        cmocka_unit_test(test_weights_net_file_mixed),
        cmocka_unit_test(test_cli_eval_weights),
        cmocka_unit_test(test_weights_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
