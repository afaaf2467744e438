/* The tables behind the config's name keys (issue 17 §2): every training rule goes by its name
 * through the config, the quantizer and a checkpoint and comes back the same; the state a
 * rule keeps is what its row says; a name no table has is an error that lists the table's
 * names; the docs list each name key's choices from its table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/checkpoint.h"
#include "qtrain/quant_rule.h"
#include "qtrain/run_setup.h"
#include "test_nets.h"
#include "tmpdir.h"

enum { IN = 40, OUT = 5 };

static void set(qt_config *c, const char *arg)
{
    qt_error err = {{0}};
    if (qt_config_set_arg(c, arg, &err) != QT_OK)
        fail_msg("%s: %s", arg, err.msg);
}

/* The config with quant.mode = name (uniform 4-bit grid, so every code can move). */
static qt_config rule_config(const char *name)
{
    qt_config c;
    char arg[64];
    qt_config_defaults(&c);
    snprintf(arg, sizeof arg, "quant.mode=%s", name);
    set(&c, arg);
    set(&c, "quant.grid=uniform");
    set(&c, "quant.bits=4");
    return c;
}

/* A linear layer with the config's quantizer (attach stream from seed), SGD state, and
 * steps updates from a fixed gradient pattern, so its state is no longer the attach state. */
static qt_net *trained_net(const qt_config *cfg, qt_optimizer *opt, uint64_t seed, int steps)
{
    qt_error err = {{0}};
    qt_quant_config qc;
    qt_net *net = tn_linear(IN, OUT, 1, seed);
    assert_int_equal(qt_run_quant_config(cfg, &qc, &err), QT_OK);
    assert_int_equal(qt_quant_attach(net, &qc, seed, &err), QT_OK);
    *opt = qt_optimizer_sgd(0.9f, 0, 0.0f);
    for (int i = 0; i < net->nparams; i++)
        assert_int_equal(qt_optimizer_init_state(opt, net->params[i], &err), QT_OK);
    qt_ctx c;
    qt_ctx_init(&c);
    for (int s = 0; s < steps; s++) {
        qt_ctx_reset(&c);
        assert_int_equal(qt_quant_prepare(net, QT_VIEW_TRAIN, seed, (uint64_t)s, NULL), QT_OK);
        for (int i = 0; i < net->nparams; i++) {
            qt_param *p = net->params[i];
            p->t.grad = qt_ctx_alloc(&c, p->t.numel * sizeof(float));
            for (size_t k = 0; k < p->t.numel; k++)
                p->t.grad[k] = (float)((int)((k * 7 + (size_t)s) % 11) - 5) * 0.3f;
            p->t.grad_written = 1;
        }
        qt_optimizer_begin_step(opt);
        qt_quant_update(net, opt, 0.5f, seed, (uint64_t)s, NULL);
    }
    qt_ctx_free(&c);
    return net;
}

/* The table's names, in order, are the words configs have always used. */
static void test_names_and_lookup(void **state)
{
    (void)state;
    char names[128];
    assert_int_equal(qt_quant_rule_names(names, sizeof names), strlen("fp|bc|sr|r|frozen"));
    assert_string_equal(names, "fp|bc|sr|r|frozen");
    assert_int_equal(qt_quant_rule_names(names, 6), strlen("fp|bc|sr|r|frozen"));
    assert_string_equal(names, "fp|bc");   /* cut like snprintf */
    for (int m = 0; m < QT_QUANT_RULES; m++) {
        const qt_quant_rule *rule = qt_quant_rule_of((qt_quant_mode)m);
        assert_string_equal(qt_quant_mode_name((qt_quant_mode)m), rule->name);
        assert_int_equal(qt_quant_rule_find(rule->name), m);
        /* a rule that quantizes can attach; one that keeps a buffer updates it */
        assert_true(!rule->quantizes || rule->attach);
        assert_true(!rule->float_buffer || (rule->quantizes && rule->apply));
    }
    assert_int_equal(qt_quant_rule_find("BC"), QT_QUANT_RULES);
    assert_int_equal(qt_quant_rule_find(""), QT_QUANT_RULES);
    assert_int_equal(qt_grid_kind_find("octal"), QT_GRID_KINDS);
    assert_int_equal(qt_sched_kind_find("linear"), QT_SCHED_KINDS);
    assert_int_equal(qt_loss_kind_find("hinge"), QT_LOSS_KINDS);
    assert_int_equal(qt_scale_rule_find("max_abs"), QT_SCALE_RULES);
    assert_string_equal(qt_quant_mode_name(QT_QUANT_RULES), "?");
}

/* Each rule's name goes through --set, validation, the resolved INI and back. */
static void test_every_rule_round_trips_through_the_config(void **state)
{
    (void)state;
    for (int m = 0; m < QT_QUANT_RULES; m++) {
        const char *name = qt_quant_mode_name((qt_quant_mode)m);
        qt_config c = rule_config(name), back;
        qt_error err = {{0}};
        qt_quant_config qc;
        assert_int_equal(qt_run_validate(&c, &err), QT_OK);
        assert_int_equal(qt_run_quant_config(&c, &qc, &err), QT_OK);
        assert_int_equal(qc.mode, m);
        char *ini = qt_config_to_ini(&c);
        assert_non_null(ini);
        qt_config_defaults(&back);
        assert_int_equal(qt_config_load_text(&back, "resolved.ini", ini, &err), QT_OK);
        free(ini);
        assert_true(qt_config_equal(&c, &back));
        assert_string_equal(back.quant.mode, name);
    }
}

static void assert_same_param(const qt_param *a, const qt_param *b)
{
    size_t n = a->t.numel;
    assert_int_equal(a->q != NULL, b->q != NULL);
    if (!a->q) {
        assert_memory_equal(a->t.data, b->t.data, n * sizeof(float));
    } else {
        /* the kept state: the float buffer where the rule keeps one (its codes are only the
         * last pass's Q(w_r)), else the codes */
        assert_true(a->q->grid.unit == b->q->grid.unit);
        const float *fa = qt_quant_float_buffer(a), *fb = qt_quant_float_buffer(b);
        assert_int_equal(fa != NULL, fb != NULL);
        if (fa)
            assert_memory_equal(fa, fb, n * sizeof(float));
        else
            assert_memory_equal(a->q->codes, b->q->codes, n);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(qt_quant_snapshot_sign(a->q, i), qt_quant_snapshot_sign(b->q, i));
    }
    if (a->opt_m)
        assert_memory_equal(a->opt_m, b->opt_m, n * sizeof(float));
}

/* Each rule keeps the state its row says, and a checkpoint restores all of it into a net
 * whose state started elsewhere (another attach stream, other steps). */
static void test_every_rule_round_trips_through_a_checkpoint(void **state)
{
    (void)state;
    char dir[256], path[300];
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/rule.ckpt", dir);
    for (int m = 0; m < QT_QUANT_RULES; m++) {
        const qt_quant_rule *rule = qt_quant_rule_of((qt_quant_mode)m);
        qt_config c = rule_config(rule->name);
        qt_optimizer oa, ob;
        qt_error err = {{0}};
        qt_net *a = trained_net(&c, &oa, 11, 3), *b = trained_net(&c, &ob, 12, 1);
        qt_param *w = a->params[0];
        assert_int_equal(w->q != NULL, rule->quantizes);
        assert_int_equal(qt_quant_float_buffer(w) != NULL, rule->float_buffer);
        qt_quant_snapshot(a);
        qt_train_state st = {3, 0, 3, 3, -1.0, 0.0, 0.0, 0, 0, 0, 0.0, 0.0};
        char *ini = qt_config_to_ini(&c);
        assert_int_equal(qt_checkpoint_save(path, a, &oa, &st, ini, NULL, &err), QT_OK);
        free(ini);
        qt_train_state back;
        if (qt_checkpoint_load(path, b, &ob, &back, &err) != QT_OK)
            fail_msg("%s: %s", rule->name, err.msg);
        for (int i = 0; i < a->nparams; i++)
            assert_same_param(a->params[i], b->params[i]);
        assert_int_equal(back.step, 3);
        /* the checkpoint's config names the rule as configs do */
        char *text;
        qt_config saved;
        assert_int_equal(qt_checkpoint_config_text(path, &text, &err), QT_OK);
        qt_config_defaults(&saved);
        assert_int_equal(qt_config_load_text(&saved, path, text, &err), QT_OK);
        free(text);
        assert_string_equal(saved.quant.mode, rule->name);
        qt_net_free(a);
        qt_net_free(b);
    }
    tmpdir_remove(dir);
}

static void expect_invalid_set(const char *arg, const char *message)
{
    qt_config c;
    qt_error err = {{0}};
    qt_config_defaults(&c);
    set(&c, arg);
    assert_int_equal(qt_run_validate(&c, &err), QT_ERR);
    assert_string_equal(err.msg, message);
}

/* An unknown name is an error of its key that lists the table's names; a name with other
 * characters is the config's own error. */
static void test_unknown_names_list_the_table(void **state)
{
    (void)state;
    expect_invalid_set("quant.mode=bcx",
                       "--set: quant.mode: expected one of fp|bc|sr|r|frozen, got \"bcx\"");
    expect_invalid_set("quant.grid=quaternary", "--set: quant.grid: expected one of "
                       "binary|ternary|uniform|unbounded, got \"quaternary\"");
    expect_invalid_set("quant.scale=max_abs", "--set: quant.scale: expected one of "
                       "const|mean_abs|std|glorot, got \"max_abs\"");
    expect_invalid_set("train.schedule=linear", "--set: train.schedule: expected one of "
                       "constant|step|exp|cosine, got \"linear\"");
    expect_invalid_set("train.loss=hinge", "--set: train.loss: expected one of "
                       "cross_entropy|squared_hinge, got \"hinge\"");
    qt_config c;
    qt_error err = {{0}};
    qt_config_defaults(&c);
    assert_int_equal(qt_config_load_text(&c, "x.ini", "[train]\nepochs = 3\n[quant]\nmode = sgd\n",
                                         &err), QT_OK);
    assert_int_equal(qt_run_validate(&c, &err), QT_ERR);
    assert_string_equal(err.msg, "x.ini:4: quant.mode: expected one of fp|bc|sr|r|frozen, got \"sgd\"");
    qt_net *net = qt_run_build_net_shape(&c, 1, 28, 28, 10, &err);
    assert_null(net);
    assert_string_equal(err.msg, "x.ini:4: quant.mode: expected one of fp|bc|sr|r|frozen, got \"sgd\"");
    qt_config_defaults(&c);
    assert_int_equal(qt_config_set_arg(&c, "quant.mode=b-c", &err), QT_ERR);
    assert_string_equal(err.msg,
                        "--set: quant.mode: expected a name (letters, digits and _), got \"b-c\"");
}

/* The rule between quant.grid and quant.bits reads the grid table's bit ranges. */
static void test_grid_bits_rule(void **state)
{
    (void)state;
    static const struct {
        const char *text, *set, *message;
    } cases[] = {
        {"[quant]\ngrid = binary\nbits = 4\n", NULL,
         "g.ini:3: quant.bits: quant.grid = binary needs quant.bits = 1, got 4"},
        {"[quant]\ngrid = uniform\n", NULL,
         "g.ini:2: quant.grid: quant.grid = uniform needs quant.bits in [2, 8], got 1"},
        {"[quant]\ngrid = uniform\nbits = 4\n", "quant.bits=1",
         "--set: quant.bits: quant.grid = uniform needs quant.bits in [2, 8], got 1"},
        {"[quant]\ngrid = ternary\nbits = 5\n", NULL, NULL},
        {"[quant]\ngrid = unbounded\nbits = 1\n", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qt_config c;
        qt_error err = {{0}};
        qt_config_defaults(&c);
        assert_int_equal(qt_config_load_text(&c, "g.ini", cases[i].text, &err), QT_OK);
        if (cases[i].set)
            set(&c, cases[i].set);
        assert_int_equal(qt_config_validate(&c, &err), QT_OK);   /* io knows no grids */
        assert_int_equal(qt_run_validate(&c, &err), cases[i].message ? QT_ERR : QT_OK);
        if (cases[i].message)
            assert_string_equal(err.msg, cases[i].message);
    }
}

/* Every name key of the schema has a table whose names include its default, and the
 * documentation lists exactly the table's names as its choices. */
static void test_docs_list_each_name_keys_table(void **state)
{
    (void)state;
    int n, name_keys = 0;
    const qt_config_key *keys = qt_config_schema(&n);
    char *help = qt_config_help_text(qt_run_config_names);
    char *readme = qt_config_readme(qt_run_config_names);
    assert_non_null(help);
    assert_non_null(readme);
    for (int i = 0; i < n; i++) {
        char names[256], want[320];
        if (keys[i].type != QT_KEY_NAME)
            continue;
        name_keys++;
        assert_true(qt_run_config_names(&keys[i], names, sizeof names) > 0);
        assert_non_null(strstr(names, keys[i].default_text));
        snprintf(want, sizeof want, "(choice: %s)", names);
        if (!strstr(help, want))
            fail_msg("--help-config lacks %s for %s.%s", want, keys[i].section, keys[i].key);
    }
    assert_int_equal(name_keys, 5);
    assert_non_null(strstr(help, "mode = fp"));
    assert_non_null(strstr(readme, "| `mode` | choice | `fp` | `fp`, `bc`, `sr`, `r`, `frozen` |"));
    free(help);
    free(readme);
    qt_config c;
    qt_error err = {{0}};
    qt_config_defaults(&c);
    assert_int_equal(qt_run_validate(&c, &err), QT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_lookup),
        cmocka_unit_test(test_every_rule_round_trips_through_the_config),
        cmocka_unit_test(test_every_rule_round_trips_through_a_checkpoint),
        cmocka_unit_test(test_unknown_names_list_the_table),
        cmocka_unit_test(test_grid_bits_rule),
        cmocka_unit_test(test_docs_list_each_name_keys_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
