#include "broker/core/gb_partition_events.h"

#include <stdlib.h>

#include "broker/core/gb_broker.h"

void gb_partition_listen(gb_broker *b, gb_partition_listener fn)
{
    gb_partition_events *e = &b->partition_events;
    if (e->n == GB_PARTITION_LISTENERS_MAX)
        abort(); /* a wiring bug: raise the maximum */
    e->fn[e->n++] = fn;
}

void gb_partition_publish(gb_broker *b, gb_partition *p, gb_partition_event ev)
{
    const gb_partition_events *e = &b->partition_events;
    for (int i = 0; i < e->n; i++)
        e->fn[i](b, p, ev);
}
