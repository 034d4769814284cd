/*
 * ApiVersions: the table of implemented APIs (gb_handlers), so that clients
 * pick versions both sides speak. Its response header is always v0.
 */
#include <stdbool.h>

#include "broker/api/gb_dispatch.h"
#include "broker/api/gb_handlers.h"
#include "broker/net/gb_request.h"
#include "protocol/gp_errors.h"

/* Served (in gb_handlers) but not advertised: APIs whose answers depend on
 * a piece not built yet, so that clients do not pick them. TxnOffsetCommit
 * waits for gb_txn_coordinator_verify (issue 14). */
static const int16_t gb__unadvertised[] = {GP_API_TXN_OFFSET_COMMIT};

bool gb_api_advertised(int16_t api_key)
{
    for (size_t i = 0; i < sizeof gb__unadvertised / sizeof gb__unadvertised[0]; i++)
        if (gb__unadvertised[i] == api_key)
            return false;
    return true;
}

static void gb__fill_api_keys(gb_request *req, gp_api_versions_response *resp)
{
    int32_t count = 0;
    for (size_t i = 0; i < gb_handler_count; i++)
        count += gb_api_advertised(gb_handlers[i].api_key);
    resp->api_keys_count = count;
    resp->api_keys = gp_arena_calloc(&req->arena, gb_handler_count, sizeof resp->api_keys[0]);
    /* In api key order, as Kafka lists them. */
    int32_t n = 0;
    for (int16_t key = 0; n < count; key++) {
        const gb_handler *h = gb_handler_get(key);
        if (!h || !gb_api_advertised(key))
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

void gb_handle_api_versions(gb_broker *b, gb_request *req)
{
    (void)b;
    const gp_api_versions_request *body = req->body;
    gp_api_versions_response *resp = req->resp;
    if (req->version >= 3 && (!gb__software_field_valid(body->client_software_name) ||
                              !gb__software_field_valid(body->client_software_version))) {
        resp->error_code = GP_E_INVALID_REQUEST;
        gb_request_respond(req);
        return;
    }
    gb__fill_api_keys(req, resp);
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
