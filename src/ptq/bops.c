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

double qt_net_bops(const qt_net *net, const double *bits, double act_bits)
{
    double b = 0.0;
    for (int i = 0; i < net->nlayers; i++)
        b += qt_layer_macs(net, i) * (bits ? bits[i] : 32.0) * act_bits;
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
                     double act_bits, qt_model_cost *out, qt_error *err)
{
    if (!(act_bits >= 1.0 && act_bits <= 32.0))
        return qt_errorf(err, "activation bits %g outside [1, 32]", act_bits);
    double *bits = malloc((size_t)(net->nlayers > 0 ? net->nlayers : 1) * sizeof *bits);
    if (!bits)
        return qt_errorf(err, "out of memory");
    qt_net_weight_bits(net, cn, bits);
    out->act_bits = act_bits;
    out->macs = total_macs(net);
    out->bops = qt_net_bops(net, bits, act_bits);
    out->fp32_macs = total_macs(fnet);
    out->fp32_bops = qt_net_bops(fnet, NULL, 32.0);
    out->bops_percent = out->fp32_bops > 0.0 ? 100.0 * out->bops / out->fp32_bops : 0.0;
    out->params = qt_net_param_count(net);
    out->fp32_params = qt_net_param_count(fnet);
    free(bits);
    return QT_OK;
}
