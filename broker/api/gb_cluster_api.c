/*
 * The cluster's view from one node: DescribeCluster and
 * OffsetForLeaderEpoch, answered as a single-node Kafka 4.4 (KRaft, broker
 * and controller in one process, no authorizer) answers them.
 *
 * DescribeCluster v0-v2 (the admin client's describeCluster): the cluster
 * id from meta.properties, this node as the controller (Kafka's broker
 * names a random live broker, which on one node is itself) and as the only
 * broker, at the address of the listener the request came in on, rack
 * null, never fenced. endpoint_type (v1+) 1 asks for brokers; 2 asks for
 * controllers, which a broker listener refuses with
 * MISMATCHED_ENDPOINT_TYPE; any other value is UNSUPPORTED_ENDPOINT_TYPE.
 * A refusal carries Kafka's message, an empty cluster id, controller -1 and
 * no brokers. include_cluster_authorized_operations: without an authorizer
 * Kafka answers every operation a cluster supports.
 *
 * OffsetForLeaderEpoch v0-v4 (a consumer's truncation check after a leader
 * change): Gregor's partitions have one leader epoch, 0, starting at the
 * log start offset, so the answer is Kafka's LeaderEpochFileCache lookup
 * over that one entry:
 *
 *   leader_epoch     answer (leader_epoch, end_offset)
 *   -1 (undefined)   (-1, -1)
 *   0                (0, log end offset)
 *   > 0              (-1, -1): no such epoch yet
 *   other < 0        (the requested epoch, log start offset): older than
 *                    the first epoch, which starts there
 *
 * Each entry of the request is answered in its place, duplicates too, as
 * Kafka answers them. An unknown topic or partition is
 * UNKNOWN_TOPIC_OR_PARTITION; current_leader_epoch (v2+, -1: no check)
 * newer than 0 is UNKNOWN_LEADER_EPOCH, older FENCED_LEADER_EPOCH; an error
 * leaves (-1, -1). replica_id (v3+) is not checked: Kafka answers a
 * follower's request like a consumer's.
 *
 * Replica placement, where one node leaves nothing to move or elect (Kafka
 * forwards these to its controller; the answers are the controller's):
 *
 * ElectLeaders v0-v2: every partition already has its preferred leader,
 * its only replica, so each one named is ELECTION_NOT_NEEDED, "Leader
 * election not needed for topic partition.", for either election type; an
 * unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION with Kafka's
 * message. Entries are answered in the request's order, duplicates too. A
 * null list means every partition: as Kafka's controller, each topic is
 * listed with no partitions (those whose election is not needed are left
 * out), in name order (Kafka's is a hash map's). An empty list is answered
 * empty. An election type other than 0 (preferred) and 1 (unclean) refuses
 * the request with INVALID_REQUEST, on every partition named too.
 *
 * AlterPartitionReassignments v0-v1: a partition may only be "moved" to
 * the replicas it has, [node id], which succeeds and changes nothing;
 * cancelling (null replicas) finds NO_REASSIGNMENT_IN_PROGRESS; other
 * lists are INVALID_REPLICA_ASSIGNMENT with the message of Kafka's check
 * (empty list; else, in ascending order, the first id that is not this
 * node or that repeats). With one broker no valid list can change the
 * replication factor, so allow_replication_factor_change decides nothing:
 * it is echoed, as Kafka does, except for an empty request, which Kafka
 * answers with a fresh response (true, and an empty top-level message
 * rather than null).
 *
 * ListPartitionReassignments v0: nothing is ever being reassigned, so
 * every request, whatever topics it names, is answered with an empty list.
 */
#include <stdio.h>

#include "broker/api/gb_handlers.h"
#include "broker/net/gb_request.h"
#include "broker/core/gb_topics.h"
#include "storage/gs_log.h"
#include "protocol/gp_errors.h"

/* DescribeCluster's endpoint types (Kafka's EndpointType). */
enum {
    GB_ENDPOINT_BROKER = 1,
    GB_ENDPOINT_CONTROLLER = 2,
};


#define GB_LEADER_EPOCH 0 /* Gregor's partitions never change leader */
#define GB_UNDEFINED_EPOCH (-1)
#define GB_UNDEFINED_EPOCH_OFFSET (-1)

void gb_handle_describe_cluster(gb_broker *b, gb_request *req)
{
    const gp_describe_cluster_request *body = req->body;
    gp_describe_cluster_response *resp = req->resp;

    if (body->endpoint_type == GB_ENDPOINT_CONTROLLER) {
        resp->error_code = GP_E_MISMATCHED_ENDPOINT_TYPE;
        resp->error_message = GP_STR_LIT(
            "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER");
        gb_request_respond(req);
        return;
    }
    if (body->endpoint_type != GB_ENDPOINT_BROKER) {
        char *msg = gp_arena_alloc(&req->arena, 48);
        snprintf(msg, 48, "Unsupported endpoint type %d", body->endpoint_type);
        resp->error_code = GP_E_UNSUPPORTED_ENDPOINT_TYPE;
        resp->error_message = gp_str_c(msg);
        gb_request_respond(req);
        return;
    }

    resp->cluster_id = gp_str_c(b->meta.cluster_id);
    resp->controller_id = b->meta.node_id;
    resp->brokers_count = 1;
    resp->brokers = gp_arena_alloc(&req->arena, sizeof resp->brokers[0]);
    gp_describe_cluster_response_broker_init(&resp->brokers[0]);
    resp->brokers[0].broker_id = b->meta.node_id;
    resp->brokers[0].host = gp_str_c(gb_request_advertised_host(req));
    resp->brokers[0].port = gb_request_advertised_port(req);
    resp->brokers[0].rack = GP_STR_NULL;
    resp->brokers[0].is_fenced = false;
    if (body->include_cluster_authorized_operations)
        resp->cluster_authorized_operations = GB_CLUSTER_AUTHORIZED_OPERATIONS;
    gb_request_respond(req);
}

/* The end of a leader epoch in partition p, as the comment at the top
 * describes. */
static void gb__epoch_end(const gb_partition *p, int32_t leader_epoch,
                          gp_offset_for_leader_epoch_response_partition *pr)
{
    if (leader_epoch == GB_UNDEFINED_EPOCH || leader_epoch > GB_LEADER_EPOCH) {
        pr->leader_epoch = GB_UNDEFINED_EPOCH;
        pr->end_offset = GB_UNDEFINED_EPOCH_OFFSET;
    } else if (leader_epoch == GB_LEADER_EPOCH) {
        pr->leader_epoch = GB_LEADER_EPOCH;
        pr->end_offset = gs_log_end_offset(p->log);
    } else {
        pr->leader_epoch = leader_epoch;
        pr->end_offset = gs_log_start_offset(p->log);
    }
}

/* The error for a request's current_leader_epoch (-1: no check). */
static int16_t gb__check_current_epoch(int32_t current_leader_epoch)
{
    if (current_leader_epoch == -1 || current_leader_epoch == GB_LEADER_EPOCH)
        return GP_E_NONE;
    return current_leader_epoch > GB_LEADER_EPOCH ? GP_E_UNKNOWN_LEADER_EPOCH : GP_E_FENCED_LEADER_EPOCH;
}

void gb_handle_offset_for_leader_epoch(gb_broker *b, gb_request *req)
{
    const gp_offset_for_leader_epoch_request *body = req->body;
    gp_offset_for_leader_epoch_response *resp = req->resp;
    int32_t ntopics = body->topics_count > 0 ? body->topics_count : 0;

    resp->topics_count = ntopics;
    resp->topics = gp_arena_calloc(&req->arena, (size_t)(ntopics ? ntopics : 1), sizeof *resp->topics);
    for (int32_t i = 0; i < ntopics; i++) {
        const gp_offset_for_leader_epoch_request_topic *in = &body->topics[i];
        gp_offset_for_leader_epoch_response_topic *out = &resp->topics[i];
        int32_t nparts = in->partitions_count > 0 ? in->partitions_count : 0;
        out->topic = in->topic;
        out->partitions_count = nparts;
        out->partitions = gp_arena_alloc(&req->arena, (size_t)(nparts ? nparts : 1) * sizeof *out->partitions);
        gb_topic *t = in->topic.len > 0 ? gb_topic_find(b, in->topic.p, (size_t)in->topic.len) : NULL;
        for (int32_t j = 0; j < nparts; j++) {
            const gp_offset_for_leader_epoch_request_partition *ip = &in->partitions[j];
            gp_offset_for_leader_epoch_response_partition *pr = &out->partitions[j];
            gp_offset_for_leader_epoch_response_partition_init(pr);
            pr->partition = ip->partition;
            pr->leader_epoch = GB_UNDEFINED_EPOCH;
            pr->end_offset = GB_UNDEFINED_EPOCH_OFFSET;
            gb_partition *p = t ? gb_topic_partition(t, ip->partition) : NULL;
            if (!p)
                pr->error_code = GP_E_UNKNOWN_TOPIC_OR_PARTITION;
            else if ((pr->error_code = gb__check_current_epoch(ip->current_leader_epoch)) == GP_E_NONE)
                gb__epoch_end(p, ip->leader_epoch, pr);
        }
    }
    gb_request_respond(req);
}

/* ElectLeaders' election types (Kafka's ElectionType). */
enum {
    GB_ELECTION_PREFERRED = 0,
    GB_ELECTION_UNCLEAN = 1,
};

/* Every partition named, answered as the comment at the top describes;
 * refuse_msg non-NULL: the request is refused, every partition with
 * INVALID_REQUEST and that message. */
static void gb__elect_named(gb_broker *b, gb_request *req, const char *refuse_msg)
{
    const gp_elect_leaders_request *body = req->body;
    gp_elect_leaders_response *resp = req->resp;
    int32_t ntopics = body->topic_partitions_count;

    resp->replica_election_results_count = ntopics;
    resp->replica_election_results =
        gp_arena_calloc(&req->arena, (size_t)(ntopics ? ntopics : 1), sizeof *resp->replica_election_results);
    for (int32_t i = 0; i < ntopics; i++) {
        const gp_elect_leaders_request_topic_partitions *in = &body->topic_partitions[i];
        gp_elect_leaders_response_replica_election_result *out = &resp->replica_election_results[i];
        int32_t nparts = in->partitions_count > 0 ? in->partitions_count : 0;
        int name_len = in->topic.len > 0 ? (int)in->topic.len : 0;
        out->topic = in->topic;
        out->partition_result_count = nparts;
        out->partition_result =
            gp_arena_alloc(&req->arena, (size_t)(nparts ? nparts : 1) * sizeof *out->partition_result);
        gb_topic *t = name_len > 0 ? gb_topic_find(b, in->topic.p, (size_t)name_len) : NULL;
        for (int32_t j = 0; j < nparts; j++) {
            gp_elect_leaders_response_partition_result *pr = &out->partition_result[j];
            int32_t index = in->partitions[j];
            pr->partition_id = index;
            if (refuse_msg) {
                pr->error_code = GP_E_INVALID_REQUEST;
                pr->error_message = gp_str_c(refuse_msg);
            } else if (!t) {
                pr->error_code = GP_E_UNKNOWN_TOPIC_OR_PARTITION;
                pr->error_message = gp_str_c(
                    gp_arena_printf(&req->arena, "No such topic as %.*s", name_len, name_len ? in->topic.p : ""));
            } else if (!gb_topic_partition(t, index)) {
                pr->error_code = GP_E_UNKNOWN_TOPIC_OR_PARTITION;
                pr->error_message = gp_str_c(
                    gp_arena_printf(&req->arena, "No such partition as %.*s-%d", name_len, in->topic.p, index));
            } else {
                pr->error_code = GP_E_ELECTION_NOT_NEEDED;
                pr->error_message = GP_STR_LIT("Leader election not needed for topic partition.");
            }
        }
    }
}

void gb_handle_elect_leaders(gb_broker *b, gb_request *req)
{
    const gp_elect_leaders_request *body = req->body;
    gp_elect_leaders_response *resp = req->resp;

    if (body->topic_partitions_count == 0) {
        gb_request_respond(req);
        return;
    }
    if (body->election_type != GB_ELECTION_PREFERRED && body->election_type != GB_ELECTION_UNCLEAN) {
        resp->error_code = GP_E_INVALID_REQUEST;
        if (body->topic_partitions_count > 0)
            gb__elect_named(b, req, gp_arena_printf(&req->arena, "Unknown election type %d", body->election_type));
        gb_request_respond(req);
        return;
    }
    if (body->topic_partitions_count > 0) {
        gb__elect_named(b, req, NULL);
        gb_request_respond(req);
        return;
    }
    /* null: every topic, with no partition whose election is needed. */
    size_t n;
    gb_topic **list = gb_topics_list(b, &req->arena, &n);
    resp->replica_election_results_count = (int32_t)n;
    resp->replica_election_results = gp_arena_calloc(&req->arena, n ? n : 1, sizeof *resp->replica_election_results);
    for (size_t i = 0; i < n; i++)
        resp->replica_election_results[i].topic = (gp_str){list[i]->name, (int32_t)list[i]->name_len};
    gb_request_respond(req);
}

/* Kafka's check of a manual assignment, with this node the only broker
 * registered: NULL when valid, else the message. */
static const char *gb__check_assignment(gb_broker *b, gp_arena *a, const int32_t *replicas, int32_t n)
{
    if (n == 0)
        return "The manual partition assignment includes an empty replica list.";
    /* In ascending order, the first id that is not this node or repeats:
     * the smallest id not this node if it sorts before the node's second
     * occurrence, else the node's id. */
    int32_t smallest_other = 0, self_count = 0;
    bool other = false;
    for (int32_t i = 0; i < n; i++) {
        if (replicas[i] == b->meta.node_id) {
            self_count++;
        } else if (!other || replicas[i] < smallest_other) {
            smallest_other = replicas[i];
            other = true;
        }
    }
    if (other && (self_count < 2 || smallest_other < b->meta.node_id))
        return gp_arena_printf(
            a, "The manual partition assignment includes broker %d, but no such broker is registered.", smallest_other);
    if (self_count > 1)
        return gp_arena_printf(a, "The manual partition assignment includes the broker %d more than once.",
                               b->meta.node_id);
    return NULL;
}

void gb_handle_alter_partition_reassignments(gb_broker *b, gb_request *req)
{
    const gp_alter_partition_reassignments_request *body = req->body;
    gp_alter_partition_reassignments_response *resp = req->resp;
    int32_t ntopics = body->topics_count > 0 ? body->topics_count : 0;

    if (ntopics == 0) {
        gb_request_respond(req); /* Kafka's fresh response: true, "" */
        return;
    }
    resp->allow_replication_factor_change = body->allow_replication_factor_change;
    resp->error_message = GP_STR_NULL;
    resp->responses_count = ntopics;
    resp->responses = gp_arena_calloc(&req->arena, (size_t)ntopics, sizeof *resp->responses);
    for (int32_t i = 0; i < ntopics; i++) {
        const gp_alter_partition_reassignments_request_reassignable_topic *in = &body->topics[i];
        gp_alter_partition_reassignments_response_reassignable_topic_response *out = &resp->responses[i];
        int32_t nparts = in->partitions_count > 0 ? in->partitions_count : 0;
        int name_len = in->name.len > 0 ? (int)in->name.len : 0;
        out->name = in->name;
        out->partitions_count = nparts;
        out->partitions = gp_arena_alloc(&req->arena, (size_t)(nparts ? nparts : 1) * sizeof *out->partitions);
        gb_topic *t = name_len > 0 ? gb_topic_find(b, in->name.p, (size_t)name_len) : NULL;
        for (int32_t j = 0; j < nparts; j++) {
            const gp_alter_partition_reassignments_request_reassignable_partition *ip = &in->partitions[j];
            gp_alter_partition_reassignments_response_reassignable_partition_response *pr = &out->partitions[j];
            pr->partition_index = ip->partition_index;
            pr->error_code = GP_E_NONE;
            pr->error_message = GP_STR_NULL;
            const char *why;
            if (!t) {
                pr->error_code = GP_E_UNKNOWN_TOPIC_OR_PARTITION;
                pr->error_message = gp_str_c(gp_arena_printf(&req->arena, "Unable to find a topic named %.*s.",
                                                             name_len, name_len ? in->name.p : ""));
            } else if (!gb_topic_partition(t, ip->partition_index)) {
                pr->error_code = GP_E_UNKNOWN_TOPIC_OR_PARTITION;
                pr->error_message = gp_str_c(gp_arena_printf(&req->arena, "Unable to find partition %.*s:%d.", name_len,
                                                             in->name.p, ip->partition_index));
            } else if (ip->replicas_count < 0) {
                pr->error_code = GP_E_NO_REASSIGNMENT_IN_PROGRESS;
            } else if ((why = gb__check_assignment(b, &req->arena, ip->replicas, ip->replicas_count)) != NULL) {
                pr->error_code = GP_E_INVALID_REPLICA_ASSIGNMENT;
                pr->error_message = gp_str_c(why);
            }
        }
    }
    gb_request_respond(req);
}

void gb_handle_list_partition_reassignments(gb_broker *b, gb_request *req)
{
    gp_list_partition_reassignments_response *resp = req->resp;
    (void)b;
    resp->error_message = GP_STR_NULL;
    resp->topics_count = 0;
    gb_request_respond(req);
}
