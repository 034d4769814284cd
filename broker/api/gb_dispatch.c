/*
 * From a frame to a handler call: the handler table, the request header,
 * version checks, decoding into the request's arena.
 *
 * What happens to a frame, in order:
 *  - an API key the schema does not know: the connection is closed (Kafka
 *    cannot parse such a request either);
 *  - ApiVersions at a version the broker does not know (newer, or
 *    negative): a v0 response with UNSUPPORTED_VERSION and ApiVersions' own
 *    versions, as Kafka answers, so the client can retry with one of them;
 *  - any other API at a version outside the schema: the header cannot be
 *    read reliably, so the connection is closed with a log line;
 *  - a known version the broker does not implement: UNSUPPORTED_VERSION in
 *    the response's top-level error code where it has one; where it has none
 *    the connection is closed (no client sends a version that ApiVersions
 *    did not advertise);
 *  - Produce v0-v2: advertised, as Kafka 4 advertises them, but the
 *    connection is closed, as Kafka 4 closes it;
 *  - a header or body that does not decode: the connection is closed with a
 *    log line naming the client and the reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gu_common.h"

#include "protocol/gp_errors.h"
#include "broker/base/gb_logger.h"
#include "broker/api/gb_dispatch.h"
#include "broker/api/gb_handlers.h"

/* Implemented APIs and versions. ApiVersions advertises exactly this. */
const gb_handler gb_handlers[] = {
    {GP_API_PRODUCE, 0, 13, gb_handle_produce},
    {GP_API_FETCH, 0, 18, gb_handle_fetch},
    {GP_API_LIST_OFFSETS, 0, 11, gb_handle_list_offsets},
    {GP_API_METADATA, 0, 13, gb_handle_metadata},
    {GP_API_OFFSET_COMMIT, 0, 10, gb_handle_offset_commit},
    {GP_API_OFFSET_FETCH, 0, 10, gb_handle_offset_fetch},
    {GP_API_FIND_COORDINATOR, 0, 6, gb_handle_find_coordinator},
    {GP_API_JOIN_GROUP, 0, 9, gb_handle_join_group},
    {GP_API_HEARTBEAT, 0, 4, gb_handle_heartbeat},
    {GP_API_LEAVE_GROUP, 0, 5, gb_handle_leave_group},
    {GP_API_SYNC_GROUP, 0, 5, gb_handle_sync_group},
    {GP_API_DESCRIBE_GROUPS, 0, 6, gb_handle_describe_groups},
    {GP_API_LIST_GROUPS, 0, 5, gb_handle_list_groups},
    {GP_API_API_VERSIONS, 0, 5, gb_handle_api_versions},
    {GP_API_CREATE_TOPICS, 0, 7, gb_handle_create_topics},
    {GP_API_DELETE_TOPICS, 0, 6, gb_handle_delete_topics},
    {GP_API_DELETE_RECORDS, 0, 2, gb_handle_delete_records},
    {GP_API_INIT_PRODUCER_ID, 0, 5, gb_handle_init_producer_id},
    {GP_API_DESCRIBE_CONFIGS, 0, 4, gb_handle_describe_configs},
    {GP_API_ALTER_CONFIGS, 0, 2, gb_handle_alter_configs},
    {GP_API_INCREMENTAL_ALTER_CONFIGS, 0, 1, gb_handle_incremental_alter_configs},
    {GP_API_DESCRIBE_LOG_DIRS, 0, 5, gb_handle_describe_log_dirs},
    {GP_API_DESCRIBE_CLIENT_QUOTAS, 0, 1, gb_handle_describe_client_quotas},
    {GP_API_ALTER_CLIENT_QUOTAS, 0, 1, gb_handle_alter_client_quotas},
    {GP_API_CREATE_PARTITIONS, 0, 3, gb_handle_create_partitions},
    {GP_API_DELETE_GROUPS, 0, 3, gb_handle_delete_groups},
    {GP_API_OFFSET_DELETE, 0, 0, gb_handle_offset_delete},
    {GP_API_ADD_PARTITIONS_TO_TXN, 0, 5, gb_handle_add_partitions_to_txn},
    {GP_API_ADD_OFFSETS_TO_TXN, 0, 4, gb_handle_add_offsets_to_txn},
    {GP_API_END_TXN, 0, 5, gb_handle_end_txn},
    {GP_API_TXN_OFFSET_COMMIT, 0, 6, gb_handle_txn_offset_commit},
    {GP_API_WRITE_TXN_MARKERS, 0, 2, gb_handle_write_txn_markers},
    {GP_API_DESCRIBE_PRODUCERS, 0, 0, gb_handle_describe_producers},
    {GP_API_DESCRIBE_TRANSACTIONS, 0, 0, gb_handle_describe_transactions},
    {GP_API_LIST_TRANSACTIONS, 0, 2, gb_handle_list_transactions},
    {GP_API_DESCRIBE_TOPIC_PARTITIONS, 0, 0, gb_handle_describe_topic_partitions},
    {GP_API_OFFSET_FOR_LEADER_EPOCH, 0, 4, gb_handle_offset_for_leader_epoch},
    {GP_API_DESCRIBE_CLUSTER, 0, 2, gb_handle_describe_cluster},
    {GP_API_ELECT_LEADERS, 0, 2, gb_handle_elect_leaders},
    {GP_API_ALTER_PARTITION_REASSIGNMENTS, 0, 1, gb_handle_alter_partition_reassignments},
    {GP_API_LIST_PARTITION_REASSIGNMENTS, 0, 0, gb_handle_list_partition_reassignments},
};
const size_t gb_handler_count = sizeof gb_handlers / sizeof gb_handlers[0];

const gb_handler *gb_handler_get(int16_t api_key)
{
    for (size_t i = 0; i < gb_handler_count; i++)
        if (gb_handlers[i].api_key == api_key)
            return &gb_handlers[i];
    return NULL;
}

int gb_dispatch_frame(void *broker, gb_conn *conn, const uint8_t *data, size_t len, void *frame, const char **why)
{
    gb_broker *b = broker;
    static char reason[256];
    int16_t key = (int16_t)gu_be16(data);
    int16_t version = (int16_t)gu_be16(data + 2);
    const gp_api *api = gp_api_get(key);
    if (!api) {
        free(frame);
        snprintf(reason, sizeof reason, "unknown API key %d", key);
        *why = reason;
        return -1;
    }

    gb_request *req = gb_conn_new_request(conn);
    req->api = api;
    req->version = version;
    req->hdr.api_key = key;
    req->hdr.api_version = version;
    req->hdr.correlation_id = (int32_t)gu_be32(data + 4);
    req->size = len;
    if (!frame) {
        /* Small frame from the shared read buffer: keep a copy. */
        void *copy = gp_arena_alloc(&req->arena, len);
        memcpy(copy, data, len);
        data = copy;
    } else {
        req->frame = frame;
    }

    /* "Does not know" is judged by the handler table, as Kafka judges it by
     * the versions it serves: the schema may know newer ones (v5 since Kafka
     * 4.4) that a client must not be answered in. */
    const gb_handler *own = key == GP_API_API_VERSIONS ? gb_handler_get(GP_API_API_VERSIONS) : NULL;
    if (own && (version < own->min_version || version > own->max_version)) {
        req->version = 0;
        req->resp = gp_arena_alloc(&req->arena, api->response.size_of);
        api->response.init(req->resp);
        gb_api_versions_unsupported(b, req);
        return 0;
    }
    if (version < api->min_version || version > api->max_version) {
        snprintf(reason, sizeof reason, "%s v%d is not a version Gregor knows (v%d-v%d)", api->name, version,
                 api->min_version, api->max_version);
        goto fail;
    }

    gp_reader r;
    gp_reader_init(&r, data, len);
    if (gp_request_header_read(&r, gp_request_header_version(api, version), &req->hdr) < 0) {
        snprintf(reason, sizeof reason, "malformed %s v%d request header: %s", api->name, version, gp_strerror(r.err));
        goto fail;
    }
    gb_conn_set_client_id(conn, req->hdr.client_id);

    req->resp = gp_arena_alloc(&req->arena, api->response.size_of);
    api->response.init(req->resp);
    const gb_handler *h = gb_handler_get(key);
    if (!h || version < h->min_version || version > h->max_version) {
        if (api->response_set_error(req->resp, version, GP_E_UNSUPPORTED_VERSION)) {
            gb_logger_debug("%s sent %s v%d, which Gregor does not implement: UNSUPPORTED_VERSION", gb_conn_peer(conn),
                            api->name, version);
            gb_request_respond(req);
            return 0;
        }
        if (h)
            snprintf(reason, sizeof reason, "%s v%d is not supported (Gregor implements v%d-v%d)", api->name, version,
                     h->min_version, h->max_version);
        else
            snprintf(reason, sizeof reason, "%s is not supported by Gregor (not advertised in ApiVersions)", api->name);
        goto fail;
    }

    req->body = gp_arena_alloc(&req->arena, api->request.size_of);
    if (api->request.decode(&r, &req->arena, version, req->body) < 0) {
        snprintf(reason, sizeof reason, "malformed %s v%d request: %s", api->name, version, gp_strerror(r.err));
        goto fail;
    }
    gb_request_quota_call(b, h->fn, req); /* h->fn(b, req), under request_percentage */
    return 0;

fail:
    /* No answer: closing the connection drops the request. */
    req->state = GB_REQ_SILENT;
    *why = reason;
    return -1;
}
