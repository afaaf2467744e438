/* What the fuzz harnesses of the file readers share: the input as a file, and the tiny nets
 * the checkpoint harness loads into and its seed generator (fuzz_seeds.c) saves from. */
#ifndef QTRAIN_FUZZ_SUPPORT_H
#define QTRAIN_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "qtrain/config.h"
#include "qtrain/net.h"
#include "qtrain/net_cp.h"
#include "qtrain/optimizer.h"
#include "qtrain/run_setup.h"

/* The readers take a path: the input goes into an in-memory file (memfd), read back through
 * /proc/self/fd, so nothing touches the disk. The returned path stays valid. */
static const char *fuzz_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz", 0);
        if (fd < 0)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
        abort();
    return path;
}

/* Net kinds: 0 float with Adam state, 1 BinaryConnect with SGD momentum, 2 stochastic
 * rounding on a 2-bit grid, 3 a float net whose conv is CP-factorised (weights only, as
 * qquant writes them). Each is conv 1->2 3x3, batchnorm, relu, linear 32->3 on 1x4x4. */
enum { FUZZ_NET_KINDS = 4 };

static qt_net *fuzz_net(int kind, qt_optimizer *opt)
{
    static const char *const modes[] = {"quant.mode=fp", "quant.mode=bc", "quant.mode=sr",
                                        "quant.mode=fp"};
    qt_config c;
    qt_error err;
    qt_config_defaults(&c);
    if (qt_config_set_arg(&c, modes[kind], &err) != QT_OK ||
        (kind == 2 && (qt_config_set_arg(&c, "quant.grid=uniform", &err) != QT_OK ||
                       qt_config_set_arg(&c, "quant.bits=2", &err) != QT_OK)))
        abort();
    qt_net *net = qt_net_new("fuzz", 1, 4, 4, &err);
    int x = net ? qt_net_conv(net, "c1", QT_NET_INPUT, 2, 3, 1, 1, 0, &err) : -1;
    if (x >= 0)
        x = qt_net_batchnorm(net, "bn1", x, 0.1f, 1e-5f, &err);
    if (x >= 0)
        x = qt_net_relu(net, x, &err);
    if (x >= 0)
        x = qt_net_flatten(net, x, &err);
    if (x < 0 || qt_net_linear(net, "fc", x, 3, 1, &err) < 0)
        abort();
    net->num_classes = 3;
    qt_net_init_params(net, 7);
    qt_quant_config qc;
    if (qt_run_quant_config(&c, &qc, &err) != QT_OK || qt_quant_attach(net, &qc, 7, &err) != QT_OK)
        abort();
    *opt = kind == 0 ? qt_optimizer_adam(0.9f, 0.999f, 1e-8f, 0.0f) : qt_optimizer_sgd(0.9f, 0, 0.0f);
    for (int i = 0; i < net->nparams; i++)
        if (qt_optimizer_init_state(opt, net->params[i], &err) != QT_OK)
            abort();
    return net;
}

#endif
