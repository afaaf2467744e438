/* Multiply-adds, BOPs and parameter counts of a compressed net (see bops.h). */
#include "qtrain/bops.h"

#include <math.h>
#include <stdlib.h>

double qt_layer_macs(const qt_net *net, int i)
{
    const qt_layer *l = &net->layers[i];
    if (l->kind == QT_LAYER_BATCHNORM)
        return (double)l->out_c * l->out_h * l->out_w;
    return qt_layer_weight_macs(l);
}

void qt_net_weight_bits(const qt_net *net, const qt_coded_net *cn, double *bits)
{
    for (int i = 0; i < net->nlayers; i++) {
        bits[i] = 32.0;
        for (int k = 0; cn && k < cn->n; k++)
            if (net->layers[i].weight && cn->layers[k].param == net->layers[i].weight)
                bits[i] = log2((double)cn->layers[k].alphabet.levels);
    }
}

void qt_net_act_bits(const qt_net *net, double *bits)
{
    for (int i = 0; i < net->nlayers; i++)
        bits[i] = net->layers[i].act.levels > 1 ? log2((double)net->layers[i].act.levels) : 32.0;
}

double qt_net_bops(const qt_net *net, const double *wbits, const double *abits)
{
    double b = 0.0;
    for (int i = 0; i < net->nlayers; i++)
        b += qt_layer_macs(net, i) * (wbits ? wbits[i] : 32.0) * (abits ? abits[i] : 32.0);
    return b;
}

static double total_macs(const qt_net *net)
{
    double m = 0.0;
    for (int i = 0; i < net->nlayers; i++)
        m += qt_layer_macs(net, i);
    return m;
}

int qt_model_cost_of(const qt_net *fnet, const qt_net *net, const qt_coded_net *cn,
                     qt_model_cost *out, qt_error *err)
{
    size_t n = (size_t)(net->nlayers > 0 ? net->nlayers : 1);
    double *wbits = malloc(n * sizeof *wbits), *abits = malloc(n * sizeof *abits);
    if (!wbits || !abits) {
        free(wbits);
        free(abits);
        return qt_errorf(err, "out of memory");
    }
    qt_net_weight_bits(net, cn, wbits);
    qt_net_act_bits(net, abits);
    out->act_bits = 32.0;
    for (int i = 0; i < net->nlayers; i++)
        out->act_bits = abits[i] < out->act_bits ? abits[i] : out->act_bits;
    out->macs = total_macs(net);
    out->bops = qt_net_bops(net, wbits, abits);
    out->fp32_macs = total_macs(fnet);
    out->fp32_bops = qt_net_bops(fnet, NULL, NULL);
    out->bops_percent = out->fp32_bops > 0.0 ? 100.0 * out->bops / out->fp32_bops : 0.0;
    out->params = qt_net_param_count(net);
    out->fp32_params = qt_net_param_count(fnet);
    free(wbits);
    free(abits);
    return QT_OK;
}
