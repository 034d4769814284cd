/*
 * ApiVersions: the table of implemented APIs (gb_handlers), so that clients
 * pick versions both sides speak. Its response header is always v0.
 */
#include <stdbool.h>
#include <string.h>

#include "broker/api/gb_dispatch.h"
#include "broker/api/gb_handlers.h"
#include "broker/net/gb_request.h"
#include "protocol/gp_errors.h"

static void gb__fill_api_keys(gb_request *req, gp_api_versions_response *resp)
{
    resp->api_keys_count = (int32_t)gb_handler_count;
    resp->api_keys = gp_arena_calloc(&req->arena, gb_handler_count, sizeof resp->api_keys[0]);
    /* In api key order, as Kafka lists them. */
    int32_t n = 0;
    for (int16_t key = 0; n < (int32_t)gb_handler_count; key++) {
        const gb_handler *h = gb_handler_get(key);
        if (!h)
            continue;
        resp->api_keys[n].api_key = h->api_key;
        resp->api_keys[n].min_version = h->min_version;
        resp->api_keys[n].max_version = h->max_version;
        n++;
    }
}

/* Kafka's rule for client software names and versions (KIP-511). */
static bool gb__software_field_valid(gp_str s)
{
    if (s.len <= 0)
        return false;
    for (int32_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        bool edge = i == 0 || i == s.len - 1;
        if (!alnum && (edge || (c != '-' && c != '.')))
            return false;
    }
    return true;
}

/* The feature flags (KIP-584), v3+: transaction.version, which clients
 * read to choose the transaction protocol (2: KIP-890 part 2, as Kafka 4
 * finalizes by default). Gregor has none of the others that Kafka lists
 * (metadata.version, kraft.version, group.version, ...): they describe a
 * KRaft cluster's metadata log and protocols Gregor does not implement, and
 * clients only read the ones they act on. The epoch is the broker's start
 * time: a restart with another gregor.transaction.version gives a later
 * one, as Kafka's epoch grows with each feature change. */
static void gb__fill_features(gb_broker *b, gb_request *req, gp_api_versions_response *resp)
{
    static const char name[] = "transaction.version";
    resp->supported_features_count = 1;
    resp->supported_features = gp_arena_calloc(&req->arena, 1, sizeof *resp->supported_features);
    resp->supported_features[0] = (gp_api_versions_response_supported_feature){gp_str_c(name), 0, 2};
    resp->finalized_features_epoch = b->started_ms;
    int16_t level = b->cfg->gregor_transaction_version;
    if (level <= 0) {
        resp->finalized_features_count = 0; /* as Kafka: a feature at level 0 is not listed */
        return;
    }
    resp->finalized_features_count = 1;
    resp->finalized_features = gp_arena_calloc(&req->arena, 1, sizeof *resp->finalized_features);
    resp->finalized_features[0] = (gp_api_versions_response_finalized_feature){gp_str_c(name), level, level};
}

void gb_handle_api_versions(gb_broker *b, gb_request *req)
{
    const gp_api_versions_request *body = req->body;
    gp_api_versions_response *resp = req->resp;
    if (req->version >= 3 && (!gb__software_field_valid(body->client_software_name) ||
                              !gb__software_field_valid(body->client_software_version))) {
        resp->error_code = GP_E_INVALID_REQUEST;
        gb_request_respond(req);
        return;
    }
    if (req->version >= 5) {
        /* KIP-1242: the cluster and node the client means to reach, both
         * or neither (INVALID_REQUEST); another cluster or node id is
         * REBOOTSTRAP_REQUIRED, so the client starts again from its
         * bootstrap servers. Kafka 4.4 answers either error with an empty
         * table. */
        bool has_cluster = body->cluster_id.len >= 0, has_node = body->node_id >= 0;
        if (has_cluster != has_node) {
            resp->error_code = GP_E_INVALID_REQUEST;
        } else if (has_cluster &&
                   (body->node_id != b->meta.node_id || (size_t)body->cluster_id.len != strlen(b->meta.cluster_id) ||
                    memcmp(body->cluster_id.p, b->meta.cluster_id, (size_t)body->cluster_id.len) != 0)) {
            resp->error_code = GP_E_REBOOTSTRAP_REQUIRED;
        }
        if (resp->error_code) {
            gb_request_respond(req);
            return;
        }
    }
    gb__fill_api_keys(req, resp);
    if (req->version >= 3)
        gb__fill_features(b, req, resp);
    gb_request_respond(req);
}

/* As Kafka's ApiVersionsRequest.getErrorResponse: the error and, as the
 * table, only ApiVersions' own versions, for the client to retry with. */
void gb_api_versions_unsupported(gb_broker *b, gb_request *req)
{
    (void)b;
    gp_api_versions_response *resp = req->resp;
    resp->error_code = GP_E_UNSUPPORTED_VERSION;
    const gb_handler *h = gb_handler_get(GP_API_API_VERSIONS);
    resp->api_keys_count = 1;
    resp->api_keys = gp_arena_calloc(&req->arena, 1, sizeof resp->api_keys[0]);
    resp->api_keys[0].api_key = h->api_key;
    resp->api_keys[0].min_version = h->min_version;
    resp->api_keys[0].max_version = h->max_version;
    gb_request_respond(req);
}
