/* Reference point for experiments/ptq/admm: the relative error of the float CP-ALS that
 * admm-cp starts from (50 sweeps from random factors) on tensors of i.i.d. N(0, 1) entries
 * with the shapes of ResNet-20's 3x3 convs, at each reduction rate. A weight tensor that
 * factorises no better than this holds no low-rank structure the method could use.
 * Prints CSV: c_out,c_in,kk,rate,rank,float_cp_error. Built and run by run.sh. */
#include <stdio.h>
#include <stdlib.h>

#include "qtrain/cp.h"
#include "qtrain/rng.h"

int main(void)
{
    static const int shapes[][2] = {{16, 16}, {32, 16}, {32, 32}, {64, 32}, {64, 64}};
    static const double rates[] = {1.2, 1.5, 2.0, 2.5, 3.0};
    printf("c_out,c_in,kk,rate,rank,float_cp_error\n");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int n = shapes[s][0] * shapes[s][1] * 9;
        float *x = malloc(sizeof(float) * n);
        if (!x)
            return 1;
        qt_rng r;
        qt_rng_seed(&r, 1 + s);
        for (int i = 0; i < n; i++)
            x[i] = qt_rng_normal(&r);
        qt_cp_tensor t = {x, {shapes[s][0], shapes[s][1], 9}, 3};
        for (size_t k = 0; k < sizeof rates / sizeof rates[0]; k++) {
            qt_cp_factors f;
            qt_error err;
            qt_cp_als_opts o = {50, 1e-6};
            if (qt_cp_factors_alloc(&f, &t, qt_cp_rank(&t, rates[k]), &err) != QT_OK)
                return 1;
            qt_cp_factors_random(&f, 1);
            if (qt_cp_als(&t, &f, &o, NULL, &err) != QT_OK) {
                fprintf(stderr, "gaussian_cp: error: %s\n", err.msg);
                return 1;
            }
            printf("%d,%d,9,%g,%d,%.4f\n", shapes[s][0], shapes[s][1], rates[k], f.rank,
                   qt_cp_rel_error(&t, &f));
            qt_cp_factors_free(&f);
        }
        free(x);
    }
    return 0;
}
