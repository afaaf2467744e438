/* What a post-training compression reports beside accuracy (qquant's summary.json): the
 * model's cost (bops.h), each layer's weight error ||W - W^||_F / ||W||_F with its bits and
 * parameters, and the CP factorization's per-layer details. */
#ifndef QTRAIN_COMPRESS_REPORT_H
#define QTRAIN_COMPRESS_REPORT_H

#include "qtrain/bops.h"
#include "qtrain/cp_net.h"
#include "qtrain/json.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_weight_report {
    char name[48];
    double rel_error;         /* ||W - W^||_F / ||W||_F */
    double bits;              /* of the stored weights (factors of a factorised layer) */
    size_t params, fp32_params;
} qt_weight_report;

/* One entry per conv and linear layer of fnet (n = their count; *out malloc'd): W from fnet,
 * W^ the same layer of net, reconstructed when net holds it factorised. */
int qt_weight_reports(const qt_net *fnet, const qt_net *net, const qt_coded_net *cn,
                      qt_weight_report **out, int *n, qt_error *err);

/* Keys into the object being written: macs, bops, fp32_macs, fp32_bops,
 * bops_percent, params, fp32_params. */
void qt_model_cost_json(qt_json_writer *w, const qt_model_cost *c);
/* Key "weights": an array of {name, rel_error, bits, params, fp32_params}. */
void qt_weight_reports_json(qt_json_writer *w, const qt_weight_report *r, int n);
/* Key "cp_layers": the changed layers' reports (those with a name), each with its rank,
 * errors, sweeps and grids {lo, step, levels} of A, B, C. */
void qt_cp_reports_json(qt_json_writer *w, const qt_cp_layer_report *r, int n);

#ifdef __cplusplus
}
#endif

#endif
