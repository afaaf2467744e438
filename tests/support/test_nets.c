#include "test_nets.h"

#include <stddef.h>

qt_net *tn_linear(int in, int out, int bias, uint64_t seed)
{
    qt_error err;
    qt_net *net = qt_net_new("linear", 1, 1, in, &err);
    if (!net)
        return NULL;
    int x = qt_net_flatten(net, QT_NET_INPUT, &err);
    if (x < 0 || qt_net_linear(net, "fc", x, out, bias, &err) < 0) {
        qt_net_free(net);
        return NULL;
    }
    qt_net_init_params(net, seed);
    return net;
}
