/*
 * Metadata: this broker (the only one, and the controller, since admin
 * clients send their requests to the controller id), the cluster id from
 * meta.properties, and the topics asked for.
 *
 * Which topics: a null list (v1+) means all; in v0, where the list cannot
 * be null, an empty list means all; otherwise exactly those named. Unknown
 * names get UNKNOWN_TOPIC_OR_PARTITION, names that break Kafka's rules
 * INVALID_TOPIC_EXCEPTION, unknown ids (v10+) UNKNOWN_TOPIC_ID.
 */
#include "broker/gb_request.h"
#include "protocol/gp_errors.h"
#include "storage/gs_names.h"

void gb_handle_metadata(gb_broker *b, gb_request *req)
{
    const gp_metadata_request *body = req->body;
    gp_metadata_response *resp = req->resp;

    resp->brokers_count = 1;
    resp->brokers = gp_arena_calloc(&req->arena, 1, sizeof resp->brokers[0]);
    resp->brokers[0].node_id = b->meta.node_id;
    resp->brokers[0].host = gp_str_c(gb_request_advertised_host(req));
    resp->brokers[0].port = gb_request_advertised_port(req);
    resp->brokers[0].rack = GP_STR_NULL;
    resp->cluster_id = gp_str_c(b->meta.cluster_id);
    resp->controller_id = b->meta.node_id;

    bool all = body->topics_count < 0 || (req->version == 0 && body->topics_count == 0);
    if (all) {
        /* No topic exists until storage arrives: an empty list. */
        resp->topics_count = 0;
        gb_request_respond(req);
        return;
    }
    resp->topics_count = body->topics_count;
    resp->topics = gp_arena_calloc(&req->arena, (size_t)body->topics_count, sizeof resp->topics[0]);
    for (int32_t i = 0; i < body->topics_count; i++) {
        const gp_metadata_request_topic *t = &body->topics[i];
        gp_metadata_response_topic *out = &resp->topics[i];
        out->topic_authorized_operations = INT32_MIN;
        /* The response name is nullable only from v12 on. */
        out->name = t->name.len < 0 && req->version < 12 ? GP_STR_LIT("") : t->name;
        const char *why;
        if (t->name.len < 0) {
            out->error_code = gp_uuid_is_zero(&t->topic_id) ? GP_E_INVALID_REQUEST : GP_E_UNKNOWN_TOPIC_ID;
            out->topic_id = t->topic_id;
        } else if (gs_topic_name_check(t->name.p, (size_t)t->name.len, &why) < 0) {
            out->error_code = GP_E_INVALID_TOPIC_EXCEPTION;
        } else {
            out->error_code = GP_E_UNKNOWN_TOPIC_OR_PARTITION;
        }
    }
    gb_request_respond(req);
}
