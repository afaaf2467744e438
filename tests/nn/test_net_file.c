/* Net files: what a file builds (layers, names in repeats, from, shortcuts), per-layer
 * quantization reaching qt_quant_attach, descriptions that rebuild the net, the exact message
 * of every kind of mistake, and docs/net-files.md covering every key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/net_desc.h"
#include "qtrain/net_file.h"
#include "qtrain/quant.h"

#define FILE_NAME "nets/my.net"

static qt_model_spec spec_3x16(void) { return qt_model_spec_default("x", 3, 16, 16, 10); }

static qt_net *build_ok(const char *text)
{
    qt_error err;
    qt_model_spec s = spec_3x16();
    qt_net *net = qt_net_file_parse(FILE_NAME, text, strlen(text), &s, &err);
    if (!net)
        fail_msg("%s", err.msg);
    return net;
}

static void expect_error(const char *text, const char *message)
{
    qt_error err = {{0}};
    qt_model_spec s = spec_3x16();
    qt_net *net = qt_net_file_parse(FILE_NAME, text, strlen(text), &s, &err);
    if (net)
        fail_msg("no error for:\n%s\nexpected: %s", text, message);
    if (strcmp(err.msg, message))
        fail_msg("for:\n%s\nexpected: %s\n     got: %s", text, message, err.msg);
}

/* Two residual blocks in a named repeat, a type-A and a type-B shortcut, from by name. */
static const char small_net[] =
    "[net]\n"
    "name = small\n"
    "input = 3x16x16\n"
    "[conv]\n"
    "name = stem\n"
    "out = 8\n"
    "k = 3\n"
    "pad = 1\n"
    "bias = false\n"
    "[bn]\n"
    "name = stem_bn\n"
    "eps = 1e-3\n"
    "[relu]\n"
    "name = stem_out\n"
    "[repeat]\n"
    "name = block\n"
    "times = 2\n"
    "  [conv]\n"
    "  name = conv\n"
    "  out = 8\n"
    "  k = 3\n"
    "  pad = 1\n"
    "  [add]\n"
    "  from = -2\n"
    "[end]\n"
    "[shortcut]\n"
    "type = A\n"
    "out = 12\n"
    "stride = 2\n"
    "from = stem_out\n"
    "[shortcut]\n"
    "name = proj\n"
    "type = B\n"
    "out = 12\n"
    "stride = 2\n"
    "from = -2\n"
    "[add]\n"
    "from = -2\n"
    "[global_avgpool]\n"
    "[linear]\n"
    "name = fc\n"
    "out = classes\n";

static void test_small_net(void **state)
{
    qt_net *net = build_ok(small_net);
    assert_string_equal(net->name, "small");
    const char *names[] = {"stem.weight", "stem_bn.weight", "stem_bn.bias", "block.0.conv.weight",
                           "block.0.conv.bias", "block.1.conv.weight", "block.1.conv.bias",
                           "proj.conv.weight", "proj.bn.weight", "proj.bn.bias", "fc.weight",
                           "fc.bias"};
    assert_int_equal(net->nparams, 12);
    for (int i = 0; i < 12; i++)
        assert_string_equal(net->params[i]->name, names[i]);
    /* stem bn relu | conv add conv add | pad | proj.conv proj.bn | add gap fc */
    const qt_layer_kind kinds[] = {QT_LAYER_CONV, QT_LAYER_BATCHNORM, QT_LAYER_RELU,
                                   QT_LAYER_CONV, QT_LAYER_ADD, QT_LAYER_CONV, QT_LAYER_ADD,
                                   QT_LAYER_SHORTCUT_PAD, QT_LAYER_CONV, QT_LAYER_BATCHNORM,
                                   QT_LAYER_ADD, QT_LAYER_GLOBAL_AVGPOOL, QT_LAYER_LINEAR};
    const int in0[] = {QT_NET_INPUT, 0, 1, 2, 3, 4, 5, 2, 6, 8, 9, 10, 11};
    const int in1[] = {0, 0, 0, 0, 2, 0, 4, 0, 0, 0, 7, 0, 0};
    assert_int_equal(net->nlayers, 13);
    for (int i = 0; i < 13; i++) {
        assert_int_equal(net->layers[i].kind, kinds[i]);
        assert_int_equal(net->layers[i].in[0], in0[i]);
        if (kinds[i] == QT_LAYER_ADD)
            assert_int_equal(net->layers[i].in[1], in1[i]);
    }
    assert_string_equal(net->layers[2].name, "stem_out");
    assert_true(net->layers[1].bn.eps == 1e-3f);
    assert_true(net->layers[9].bn.eps == 1e-5f);  /* the spec's default, B's bn included */
    assert_int_equal(net->layers[10].out_c, 12);
    assert_int_equal(net->layers[10].out_h, 8);
    assert_int_equal(net->layers[12].out_c, 10);
    qt_net_free(net);
}

/* A depthwise conv: groups = input channels, each output channel reads one input channel. */
static void test_depthwise_and_groups(void **state)
{
    qt_net *net = build_ok("[conv]\nname = dw\nout = 6\nk = 3\ndepthwise = true\n"
                           "[conv]\nname = g\nout = 4\nk = 1\ngroups = 2\nbias = false\n"
                           "[flatten]\n[linear]\nname = fc\nout = classes\n");
    assert_int_equal(net->layers[0].conv.groups, 3);
    assert_int_equal(net->params[0]->t.shape[1], 1);
    assert_int_equal(net->params[0]->fan_in, 9);
    assert_int_equal(net->layers[1].conv.groups, 2);
    assert_int_equal(net->params[2]->t.shape[1], 3);
    assert_int_equal(net->layers[1].out_h, 14);
    qt_net_free(net);
}

/* A binary BC net whose first layer is 4-bit (though quantize_first is off), whose second is
 * ternary, whose third stays float and whose last is quantized (though quantize_last is off). */
static void test_per_layer_quantization(void **state)
{
    qt_net *net = build_ok("[conv]\nname = a\nout = 4\nk = 3\nbits = 4\n"
                           "[conv]\nname = b\nout = 4\nk = 3\ngrid = ternary\n"
                           "[conv]\nname = c\nout = 4\nk = 3\nquantize = false\n"
                           "[conv]\nname = d\nout = 4\nk = 3\n"
                           "[flatten]\n"
                           "[linear]\nname = e\nout = 16\n"
                           "[linear]\nname = f\nout = classes\nquantize = true\n");
    qt_net_init_params(net, 3);
    qt_quant_config qc = {QT_QUANT_BC, QT_GRID_BINARY, 1, QT_SCALE_MEAN_ABS, 1.0f, 0, 0, 0, 0};
    qt_error err;
    assert_int_equal(qt_quant_attach(net, &qc, 3, &err), QT_OK);
    const char *name[] = {"a.weight", "b.weight", "c.weight", "d.weight", "e.weight", "f.weight"};
    const int quantized[] = {1, 1, 0, 1, 1, 1};
    const qt_grid_kind grid[] = {QT_GRID_UNIFORM, QT_GRID_TERNARY, 0, QT_GRID_BINARY,
                                 QT_GRID_BINARY, QT_GRID_BINARY};
    for (int i = 0; i < 6; i++) {
        qt_param *p = qt_net_find_param(net, name[i]);
        assert_non_null(p);
        assert_int_equal(p->q != NULL, quantized[i]);
        if (p->q)
            assert_int_equal(p->q->grid.kind, grid[i]);
    }
    assert_int_equal(qt_net_find_param(net, "a.weight")->q->grid.levels, 15);
    qt_net_free(net);
}

static void assert_same_net(const qt_net *a, const qt_net *b)
{
    assert_int_equal(a->nparams, b->nparams);
    assert_int_equal(a->nlayers, b->nlayers);
    for (int i = 0; i < a->nparams; i++) {
        assert_string_equal(a->params[i]->name, b->params[i]->name);
        assert_int_equal(a->params[i]->t.numel, b->params[i]->t.numel);
    }
    assert_string_equal(qt_net_description(a), qt_net_description(b));
}

static void test_descriptions_rebuild_the_net(void **state)
{
    qt_error err;
    qt_net *file = build_ok(small_net);
    char want[4096];
    snprintf(want, sizeof want, "file input=3x16x16 classes=10 bn_momentum=0.1 bn_eps=1e-05 "
             "path=" FILE_NAME "\n%s", small_net);
    assert_string_equal(qt_net_description(file), want);
    qt_net *again = qt_net_from_description(qt_net_description(file), &err);
    assert_non_null(again);
    assert_same_net(file, again);

    static const int widths[] = {64, 32};
    qt_model_spec s = qt_model_spec_default("mlp", 1, 28, 28, 10);
    s.widths = widths;
    s.nwidths = 2;
    s.bn_eps = 1e-3f;
    qt_net *zoo = qt_model_build(&s, &err);
    assert_string_equal(qt_net_description(zoo), "zoo:mlp input=1x28x28 classes=10 "
                        "widths=64,32 dropout=0 bn_momentum=0.1 bn_eps=0.001");
    qt_net *zoo_again = qt_net_from_description(qt_net_description(zoo), &err);
    assert_non_null(zoo_again);
    assert_same_net(zoo, zoo_again);

    s = qt_model_spec_default("resnet20", 3, 32, 32, 100);
    s.shortcut = 'B';
    qt_net *r20 = qt_model_build(&s, &err);
    assert_string_equal(qt_net_description(r20), "zoo:resnet20 input=3x32x32 classes=100 "
                        "shortcut=B bn_momentum=0.1 bn_eps=1e-05");
    qt_net *r20_again = qt_net_from_description(qt_net_description(r20), &err);
    assert_non_null(r20_again);
    assert_same_net(r20, r20_again);

    assert_null(qt_net_from_description("zoo:resnet20 input=3x32x32 classes=10 depth=9", &err));
    assert_string_equal(err.msg, "net description: unknown option \"depth\"");
    assert_null(qt_net_from_description("zoo:resnet20 classes=10", &err));
    assert_string_equal(err.msg, "net description: \"zoo:resnet20\" lacks input= or classes=");
    assert_null(qt_net_from_description("graph input=3x32x32 classes=10", &err));
    assert_string_equal(err.msg, "net description: unknown source \"graph\" (expected zoo:<name> or file)");
    qt_net *nets[] = {file, again, zoo, zoo_again, r20, r20_again};
    for (size_t i = 0; i < sizeof nets / sizeof *nets; i++)
        qt_net_free(nets[i]);
}

/* The tail every conv section below shares, so that only the mistake differs. */
#define TAIL "[flatten]\n[linear]\nname = fc\nout = classes\n"

static void test_error_messages(void **state)
{
    expect_error("[convolution]\nout = 8\n",
                 FILE_NAME ":1: unknown section [convolution]; layers are conv, linear, bn, "
                 "relu, hardtanh, maxpool, avgpool, global_avgpool, flatten, dropout, add and "
                 "shortcut (besides [net], [repeat] and [end])");
    expect_error("[conv]\nname = c\nout = 8\nkernel = 3\n" TAIL,
                 FILE_NAME ":4: conv: unknown key \"kernel\" (conv takes name, out, k, stride, "
                 "pad, groups, depthwise, bias, quantize, grid, bits)");
    expect_error("[relu]\n[end]\ntimes = 2\n", FILE_NAME ":3: end: unknown key \"times\" "
                 "([end] takes no keys)");
    expect_error("[conv]\nname = c\nk = 3\n" TAIL, FILE_NAME ":1: conv: missing key \"out\"");
    expect_error("[conv]\nout = 8\nk = 3\n" TAIL, FILE_NAME ":1: conv: missing key \"name\"");
    expect_error("[conv]\nname = c\nout = 8\nk = three\n" TAIL,
                 FILE_NAME ":4: conv: k: expected an integer, got \"three\"");
    expect_error("[conv]\nname = c\nout = many\nk = 3\n" TAIL,
                 FILE_NAME ":3: conv: out: expected a positive integer or \"classes\", got \"many\"");
    expect_error("[conv]\nname = c\nout = 8\nk = 3\nk = 5\n" TAIL,
                 FILE_NAME ":5: conv: key \"k\" given twice (first on line 4)");
    expect_error("[dropout]\np = 1\n", FILE_NAME ":2: dropout: p: expected a number in [0, 1), got \"1\"");
    /* shapes */
    expect_error("[conv]\nname = a\nout = 32\nk = 3\npad = 1\n"
                 "[conv]\nname = b\nout = 64\nk = 3\nstride = 2\npad = 1\n"
                 "[add]\nfrom = a\n" TAIL,
                 FILE_NAME ":12: add: shapes (64,8,8) and (32,16,16) differ");
    expect_error("[linear]\nname = fc\nout = classes\n",
                 FILE_NAME ":1: linear fc: needs a flat input (F), got (3,16,16); put [flatten] "
                 "or [global_avgpool] before it");
    expect_error("[flatten]\n[conv]\nname = c\nout = 8\nk = 3\n" TAIL,
                 FILE_NAME ":2: conv c: needs an image input (C,H,W), got the flat (768)");
    expect_error("[conv]\nname = c\nout = 8\nk = 20\n" TAIL,
                 FILE_NAME ":1: conv c: a 20x20 window with pad 0 does not fit the input (3,16,16)");
    /* a max pool keeps its argmax in one byte: windows up to QT_MAXPOOL_MAX_K wide */
    expect_error("[maxpool]\nk = 17\npad = 1\n" TAIL,
                 FILE_NAME ":1: maxpool: my: max pool window 17 is over 16");
    expect_error("[conv]\nname = c\nout = 8\nk = 3\ngroups = 2\n" TAIL,
                 FILE_NAME ":1: conv c: groups = 2 must divide the input's 3 channels and out = 8");
    expect_error("[shortcut]\ntype = A\nout = 2\nfrom = -1\n" TAIL,
                 FILE_NAME ":1: shortcut: type A only adds zero channels: out = 2 is fewer than "
                 "the 3 of its input (3,16,16)");
    expect_error("[global_avgpool]\n[flatten]\n" TAIL,
                 FILE_NAME ":2: flatten: the input (3) is already flat");
    expect_error("[flatten]\n[linear]\nname = fc\nout = 5\n",
                 FILE_NAME ":2: the net's output is (5); it must be (10), one score per class "
                 "(e.g. a last [linear] with out = classes)");
    /* from */
    expect_error("[relu]\n[add]\nfrom = -3\n" TAIL,
                 FILE_NAME ":3: add: from = -3 goes back past the net's input (1 layer comes "
                 "before this one)");
    expect_error("[relu]\n[add]\nfrom = stem\n" TAIL,
                 FILE_NAME ":3: add: from = stem: no layer before this one has that name");
    expect_error("[relu]\n[add]\nfrom = 2\n" TAIL,
                 FILE_NAME ":3: add: from: expected -N (N layers back) or a layer's name, got \"2\"");
    /* structure */
    expect_error("[repeat]\ntimes = 2\n[relu]\n" TAIL, FILE_NAME ":1: [repeat] has no [end]");
    expect_error("[repeat]\ntimes = 2\n[repeat]\ntimes = 2\n[relu]\n[end]\n" TAIL,
                 FILE_NAME ":1: [repeat] has no [end]");
    expect_error("[repeat]\ntimes = 2\n[relu]\n[end]\n[end]\n" TAIL,
                 FILE_NAME ":5: [end] without a [repeat] to close");
    expect_error("[repeat]\ntimes = 2\n[end]\n" TAIL, FILE_NAME ":1: [repeat] holds no layers");
    expect_error("[repeat]\ntimes = 2\n[conv]\nname = c\nout = 3\nk = 1\n[end]\n" TAIL,
                 FILE_NAME ":3: the name c occurs in every repetition; give the [repeat] a name "
                 "to tell them apart");
    expect_error("[conv]\nname = c\nout = 3\nk = 1\n[relu]\nname = c\n" TAIL,
                 FILE_NAME ":5: the name c is already taken on line 1");
    expect_error("[relu]\n[net]\nname = late\n" TAIL, FILE_NAME ":2: [net] must be the first section");
    expect_error("[net]\ninput = 1x28x28\n" TAIL,
                 FILE_NAME ":2: net: input = 1x28x28, but the data's images are 3x16x16");
    expect_error("[net]\ninput = 28x28\n" TAIL,
                 FILE_NAME ":2: net: input: expected CxHxW such as 3x32x32, got \"28x28\"");
    /* quantization */
    expect_error("[conv]\nname = c\nout = 8\nk = 3\nquantize = false\nbits = 4\n" TAIL,
                 FILE_NAME ":6: conv: quantize = false keeps the layer float; it takes no grid or bits");
    expect_error("[conv]\nname = c\nout = 8\nk = 3\ngrid = uniform\n" TAIL,
                 FILE_NAME ":5: conv: grid = uniform needs bits from 2 to 8");
    expect_error("[conv]\nname = c\nout = 8\nk = 3\ngrid = binary\nbits = 2\n" TAIL,
                 FILE_NAME ":5: conv: grid = binary has 1 bit, got bits = 2");
    expect_error("[conv]\nname = c\nout = 8\nk = 3\ngrid = octal\n" TAIL,
                 FILE_NAME ":5: conv: grid: expected one of binary|ternary|uniform|unbounded, got \"octal\"");
    /* the INI reader's own errors pass through */
    expect_error("[conv\n", FILE_NAME ":1: section header \"[conv\" has no closing ']'");
    expect_error("", FILE_NAME ": holds no layers");
}

/* Whether the doc has a row "| `key` |" under a "### " heading that names [kind]. */
static int documented(const char *doc, const char *kind, const char *key)
{
    char head[64], row[64];
    snprintf(head, sizeof head, "[%s]", kind);
    snprintf(row, sizeof row, "| `%s` |", key);
    int in_section = 0;
    for (const char *line = doc; *line; line += strcspn(line, "\n") + (line[strcspn(line, "\n")] != 0)) {
        size_t len = strcspn(line, "\n");
        if (!strncmp(line, "#", 1)) {
            char text[256];
            snprintf(text, sizeof text, "%.*s", (int)len, line);
            in_section = !strncmp(text, "### ", 4) && strstr(text, head);
        } else if (in_section && !strncmp(line, row, strlen(row))) {
            return 1;
        }
    }
    return 0;
}

static const char *read_doc(void)
{
    static char doc[65536];
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/net-files.md", getenv("QTRAIN_SOURCE_ROOT"));
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = '\0';
    return doc;
}

/* Every (section, key) of the reader's table has a row in its section of docs/net-files.md. */
static void test_docs_cover_every_key(void **state)
{
    const char *doc = read_doc();
    int nkeys;
    const qt_config_key *keys = qt_net_file_keys(&nkeys);
    for (int i = 0; i < nkeys; i++)
        if (!documented(doc, keys[i].section, keys[i].key))
            fail_msg("docs/net-files.md: no row for `%s` under a \"### ...[%s]\" heading",
                     keys[i].key, keys[i].section);
}

/* The short example of docs/net-files.md builds: two residual blocks, a 4-bit stem. */
static void test_docs_example_builds(void **state)
{
    const char *doc = read_doc(), *at = strstr(doc, "## A short example");
    assert_non_null(at);
    const char *start = strstr(at, "```ini\n"), *end = start ? strstr(start + 7, "```") : NULL;
    assert_non_null(end);
    qt_error err;
    qt_model_spec s = qt_model_spec_default("x", 1, 28, 28, 10);
    qt_net *net = qt_net_file_parse("example.net", start + 7, (size_t)(end - start - 7), &s, &err);
    if (!net)
        fail_msg("%s", err.msg);
    assert_string_equal(net->name, "tiny_res");
    assert_non_null(qt_net_find_param(net, "block.1.bn2.weight"));
    assert_int_equal(net->layers[0].quant.bits, 4);
    assert_int_equal(net->layers[net->nlayers - 1].quant.quantize, -1);
    qt_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_net),
        cmocka_unit_test(test_depthwise_and_groups),
        cmocka_unit_test(test_per_layer_quantization),
        cmocka_unit_test(test_descriptions_rebuild_the_net),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_docs_cover_every_key),
        cmocka_unit_test(test_docs_example_builds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
