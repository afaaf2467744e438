#include "profile_report.h"

#include <stdlib.h>

/* GFLOP/s, or 0 where nothing was timed. */
static double gflops(double flops, double seconds) { return seconds > 0.0 ? flops / seconds * 1e-9 : 0.0; }

static void print_passes(FILE *f, const qt_profile *p)
{
    double s[QT_PASS_COUNT];
    const double rest = p->step_seconds - qt_profile_passes(p, s);
    const double step = p->step_seconds / p->steps;
    fprintf(f, "%-18s %9s %7s %8s\n", "pass", "ms/step", "share", "GFLOP/s");
    int order[QT_PASS_COUNT];
    for (int k = 0; k < QT_PASS_COUNT; k++) {
        int j = k;
        while (j > 0 && s[order[j - 1]] < s[k]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = k;
    }
    for (int i = 0; i < QT_PASS_COUNT; i++) {
        const qt_pass k = (qt_pass)order[i];
        const double fl = qt_profile_pass_flops(p, k);
        fprintf(f, "%-18s %9.2f %6.1f%%", qt_pass_name(k), 1e3 * s[k] / p->steps,
                100.0 * s[k] / p->step_seconds);
        if (fl > 0.0)
            fprintf(f, " %8.1f", gflops(fl, s[k]));
        fputc('\n', f);
    }
    fprintf(f, "%-18s %9.2f %6.1f%%\n", "untracked", 1e3 * rest / p->steps, 100.0 * rest / p->step_seconds);
    fprintf(f, "%-18s %9.2f %6.1f%%\n", "step", 1e3 * step, 100.0);
}

/* "name" or "#index kind", with "+N" for the layers fused after it. */
static void layer_label(const qt_profile *p, int i, char *buf, size_t n)
{
    const qt_layer *l = &p->net->layers[i];
    int fused = p->layers[i].fused;
    if (l->name[0])
        snprintf(buf, n, fused ? "%s (+%d fused)" : "%s", l->name, fused);
    else
        snprintf(buf, n, fused ? "#%d %s (+%d fused)" : "#%d %s", i, qt_layer_kind_name(l->kind), fused);
}

static void print_layers(FILE *f, const qt_profile *p)
{
    const int n = p->net->nlayers;
    int *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    if (!order)
        return;
    qt_profile_layer_order(p, order);
    const double ms = 1e3 / p->steps;
    fprintf(f, "\nlayers, most time first (ms per step; GFLOP/s of the conv and linear products):\n");
    fprintf(f, "%-34s %-12s %-12s %8s %8s %8s %8s %8s %6s  %s\n", "layer", "kind", "output",
            "forward", "in-grad", "w-grad", "backward", "total", "share", "GFLOP/s fwd/in/w");
    for (int r = 0; r < n; r++) {
        const int i = order[r];
        const qt_layer *l = &p->net->layers[i];
        const qt_layer_times *t = &p->layers[i];
        const double total = qt_layer_total(t);
        if (total <= 0.0)
            continue; /* fused into another layer */
        char label[96], out[32];
        layer_label(p, i, label, sizeof label);
        if (l->out_ndim == 4)
            snprintf(out, sizeof out, "%dx%dx%d", l->out_c, l->out_h, l->out_w);
        else
            snprintf(out, sizeof out, "%d", l->out_c);
        fprintf(f, "%-34s %-12s %-12s %8.3f %8.3f %8.3f %8.3f %8.3f %5.1f%%", label,
                qt_layer_kind_name(l->kind), out, t->forward * ms, t->input_grad * ms,
                t->weight_grad * ms, t->backward * ms, total * ms, 100.0 * total / p->step_seconds);
        if (t->forward_flops > 0.0)
            fprintf(f, "  %.0f / %.0f / %.0f", gflops(t->forward_flops, t->forward),
                    gflops(t->input_grad_flops, t->input_grad), gflops(t->weight_grad_flops, t->weight_grad));
        fputc('\n', f);
    }
    free(order);
}

static void print_shapes(FILE *f, const qt_profile *p)
{
    qt_conv_shape_times *s = malloc((size_t)(p->net->nlayers > 0 ? p->net->nlayers : 1) * sizeof *s);
    if (!s)
        return;
    const int n = qt_profile_conv_shapes(p, s);
    const double ms = 1e3 / p->steps;
    fprintf(f, "\nconv shapes, most time first (ms per step, GFLOP/s in brackets):\n");
    fprintf(f, "%-32s %6s %18s %18s %18s %9s %6s\n", "kxk/stride in->out channels, input", "layers",
            "forward", "input grad", "weight grad", "total", "share");
    for (int k = 0; k < n; k++) {
        const qt_layer_times *t = &s[k].sum;
        char shape[64], fw[32], dx[32], dw[32];
        snprintf(shape, sizeof shape, "%dx%d/%d %d->%d%s, %dx%d", s[k].k, s[k].k, s[k].stride,
                 s[k].cin, s[k].cout, s[k].groups > 1 ? " grouped" : "", s[k].h, s[k].w);
        snprintf(fw, sizeof fw, "%.2f (%.0f)", t->forward * ms, gflops(t->forward_flops, t->forward));
        snprintf(dx, sizeof dx, "%.2f (%.0f)", t->input_grad * ms, gflops(t->input_grad_flops, t->input_grad));
        snprintf(dw, sizeof dw, "%.2f (%.0f)", t->weight_grad * ms, gflops(t->weight_grad_flops, t->weight_grad));
        const double total = qt_layer_total(t);
        fprintf(f, "%-32s %6d %18s %18s %18s %9.2f %5.1f%%\n", shape, s[k].layers, fw, dx, dw,
                total * ms, 100.0 * total / p->step_seconds);
    }
    free(s);
}

void profile_print_text(FILE *f, const qt_profile *p, int batch)
{
    if (p->steps < 1)
        return;
    fprintf(f, "\nprofile of %d steps (batch %d): %.2f ms per step; thread pool: %.0f jobs, "
               "%.1f helper and %.1f caller sleeps per step\n",
            p->steps, batch, 1e3 * p->step_seconds / p->steps, (double)p->pool.jobs / p->steps,
            (double)p->pool.helper_sleeps / p->steps, (double)p->pool.caller_sleeps / p->steps);
    print_passes(f, p);
    print_layers(f, p);
    print_shapes(f, p);
}

static void json_times(qt_json_writer *w, const qt_layer_times *t, int steps)
{
    qt_json_field_number(w, "forward_s", t->forward / steps);
    qt_json_field_number(w, "input_grad_s", t->input_grad / steps);
    qt_json_field_number(w, "weight_grad_s", t->weight_grad / steps);
    qt_json_field_number(w, "backward_s", t->backward / steps);
    qt_json_field_number(w, "forward_gflops", gflops(t->forward_flops, t->forward));
    qt_json_field_number(w, "input_grad_gflops", gflops(t->input_grad_flops, t->input_grad));
    qt_json_field_number(w, "weight_grad_gflops", gflops(t->weight_grad_flops, t->weight_grad));
    qt_json_field_number(w, "forward_gflop", t->forward_flops / steps * 1e-9);
    qt_json_field_number(w, "input_grad_gflop", t->input_grad_flops / steps * 1e-9);
    qt_json_field_number(w, "weight_grad_gflop", t->weight_grad_flops / steps * 1e-9);
}

static void json_passes(qt_json_writer *w, const qt_profile *p)
{
    double s[QT_PASS_COUNT];
    const double rest = p->step_seconds - qt_profile_passes(p, s);
    qt_json_key(w, "passes");
    qt_json_begin_array(w);
    for (int k = 0; k < QT_PASS_COUNT; k++) {
        qt_json_begin_object(w);
        qt_json_field_string(w, "pass", qt_pass_name((qt_pass)k));
        qt_json_field_number(w, "seconds_per_step", s[k] / p->steps);
        qt_json_field_number(w, "gflops", gflops(qt_profile_pass_flops(p, (qt_pass)k), s[k]));
        qt_json_end_object(w);
    }
    qt_json_end_array(w);
    qt_json_field_number(w, "untracked_seconds_per_step", rest / p->steps);
}

static void json_layers(qt_json_writer *w, const qt_profile *p)
{
    int *order = malloc((size_t)(p->net->nlayers > 0 ? p->net->nlayers : 1) * sizeof *order);
    qt_json_key(w, "layers");
    qt_json_begin_array(w);
    if (order)
        qt_profile_layer_order(p, order);
    for (int r = 0; order && r < p->net->nlayers; r++) {
        const qt_layer *l = &p->net->layers[order[r]];
        qt_json_begin_object(w);
        qt_json_field_int(w, "index", order[r]);
        qt_json_field_string(w, "name", l->name);
        qt_json_field_string(w, "kind", qt_layer_kind_name(l->kind));
        qt_json_field_int(w, "fused", p->layers[order[r]].fused);
        json_times(w, &p->layers[order[r]], p->steps);
        qt_json_end_object(w);
    }
    qt_json_end_array(w);
    free(order);
}

static void json_shapes(qt_json_writer *w, const qt_profile *p)
{
    qt_conv_shape_times *s = malloc((size_t)(p->net->nlayers > 0 ? p->net->nlayers : 1) * sizeof *s);
    const int n = s ? qt_profile_conv_shapes(p, s) : 0;
    qt_json_key(w, "conv_shapes");
    qt_json_begin_array(w);
    for (int k = 0; k < n; k++) {
        qt_json_begin_object(w);
        qt_json_field_int(w, "cin", s[k].cin);
        qt_json_field_int(w, "cout", s[k].cout);
        qt_json_field_int(w, "kernel", s[k].k);
        qt_json_field_int(w, "stride", s[k].stride);
        qt_json_field_int(w, "pad", s[k].pad);
        qt_json_field_int(w, "groups", s[k].groups);
        qt_json_field_int(w, "height", s[k].h);
        qt_json_field_int(w, "width", s[k].w);
        qt_json_field_int(w, "layers", s[k].layers);
        json_times(w, &s[k].sum, p->steps);
        qt_json_end_object(w);
    }
    qt_json_end_array(w);
    free(s);
}

void profile_write_json(qt_json_writer *w, const qt_profile *p)
{
    qt_json_begin_object(w);
    qt_json_field_int(w, "steps", p->steps);
    qt_json_field_number(w, "seconds_per_step", p->steps ? p->step_seconds / p->steps : 0.0);
    qt_json_field_number(w, "pool_jobs_per_step", p->steps ? (double)p->pool.jobs / p->steps : 0.0);
    qt_json_field_number(w, "pool_helper_sleeps_per_step",
                         p->steps ? (double)p->pool.helper_sleeps / p->steps : 0.0);
    qt_json_field_number(w, "pool_caller_sleeps_per_step",
                         p->steps ? (double)p->pool.caller_sleeps / p->steps : 0.0);
    if (p->steps) {
        json_passes(w, p);
        json_layers(w, p);
        json_shapes(w, p);
    }
    qt_json_end_object(w);
}
