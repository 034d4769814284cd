/*
 * Partition events: a partition was opened (loaded or created), records
 * were appended to it, or it is going away (its topic is being deleted).
 * Topics and the append path publish them; the services that keep state
 * per partition (fetch waiters, the flusher, the page cache) register a
 * listener at start-up (broker/gb_lifecycle.c), before the topics open, so
 * that topics need not know who listens.
 *
 * Listeners run in the order they registered, on the loop thread, inside
 * the publishing call.
 */
#ifndef GB_PARTITION_EVENTS_H
#define GB_PARTITION_EVENTS_H

typedef struct gb_broker gb_broker;
typedef struct gb_partition gb_partition;

typedef enum gb_partition_event {
    GB_PARTITION_OPENED,   /* before it is reachable from its topic */
    GB_PARTITION_APPENDED, /* after records reached its log */
    GB_PARTITION_GONE,     /* before its topic is removed */
} gb_partition_event;

typedef void (*gb_partition_listener)(gb_broker *b, gb_partition *p, gb_partition_event ev);

#define GB_PARTITION_LISTENERS_MAX 8

typedef struct gb_partition_events {
    gb_partition_listener fn[GB_PARTITION_LISTENERS_MAX];
    int n;
} gb_partition_events;

/* Register a listener (at start-up; aborts beyond GB_PARTITION_LISTENERS_MAX). */
void gb_partition_listen(gb_broker *b, gb_partition_listener fn);

/* Tell every listener. */
void gb_partition_publish(gb_broker *b, gb_partition *p, gb_partition_event ev);

#endif
