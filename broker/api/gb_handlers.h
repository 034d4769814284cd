/*
 * The API handlers, one family per file in api/: each decodes nothing
 * itself (the dispatcher did), calls the services and answers with
 * gb_request_respond(), now or later.
 */
#ifndef GB_HANDLERS_H
#define GB_HANDLERS_H

#include "broker/core/gb_broker.h"
#include "broker/net/gb_request.h"

/* Every operation on the cluster (AclOperation codes CREATE 5, ALTER 7,
 * DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11,
 * IDEMPOTENT_WRITE 12), as Kafka answers cluster_authorized_operations
 * (DescribeCluster, Metadata v8-v10) without an authorizer: 8096. */
#define GB_CLUSTER_AUTHORIZED_OPERATIONS ((1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12))

void gb_handle_api_versions(gb_broker *b, gb_request *req);
void gb_handle_metadata(gb_broker *b, gb_request *req);
void gb_handle_describe_topic_partitions(gb_broker *b, gb_request *req);
void gb_handle_describe_log_dirs(gb_broker *b, gb_request *req);
void gb_handle_describe_client_quotas(gb_broker *b, gb_request *req);
void gb_handle_alter_client_quotas(gb_broker *b, gb_request *req);
/* Call a handler under the client's request_percentage quota (KIP-124). */
void gb_request_quota_call(gb_broker *b, void (*fn)(gb_broker *b, gb_request *req), gb_request *req);
/* Raise the response's throttle_time_ms to ms and mute the connection for
 * that long (a client over a quota); nothing for ms <= 0. */
void gb_response_throttle(gb_request *req, int32_t ms);
void gb_handle_produce(gb_broker *b, gb_request *req);
void gb_handle_fetch(gb_broker *b, gb_request *req);
void gb_handle_create_topics(gb_broker *b, gb_request *req);
void gb_handle_delete_topics(gb_broker *b, gb_request *req);
void gb_handle_create_partitions(gb_broker *b, gb_request *req);
void gb_handle_describe_configs(gb_broker *b, gb_request *req);
void gb_handle_alter_configs(gb_broker *b, gb_request *req);             /* gb_configs_api.c */
void gb_handle_incremental_alter_configs(gb_broker *b, gb_request *req); /* gb_configs_api.c */
void gb_handle_list_offsets(gb_broker *b, gb_request *req);
void gb_handle_delete_records(gb_broker *b, gb_request *req);
void gb_handle_find_coordinator(gb_broker *b, gb_request *req);
void gb_handle_join_group(gb_broker *b, gb_request *req);
void gb_handle_sync_group(gb_broker *b, gb_request *req);
void gb_handle_heartbeat(gb_broker *b, gb_request *req);
void gb_handle_leave_group(gb_broker *b, gb_request *req);
void gb_handle_offset_commit(gb_broker *b, gb_request *req);
void gb_handle_offset_fetch(gb_broker *b, gb_request *req);
void gb_handle_offset_delete(gb_broker *b, gb_request *req);
void gb_handle_txn_offset_commit(gb_broker *b, gb_request *req);
void gb_handle_list_groups(gb_broker *b, gb_request *req);
void gb_handle_describe_groups(gb_broker *b, gb_request *req);
void gb_handle_delete_groups(gb_broker *b, gb_request *req);
void gb_handle_init_producer_id(gb_broker *b, gb_request *req);
void gb_handle_describe_producers(gb_broker *b, gb_request *req);
void gb_handle_add_partitions_to_txn(gb_broker *b, gb_request *req);
void gb_handle_add_offsets_to_txn(gb_broker *b, gb_request *req);
void gb_handle_end_txn(gb_broker *b, gb_request *req);
void gb_handle_write_txn_markers(gb_broker *b, gb_request *req);
void gb_handle_describe_transactions(gb_broker *b, gb_request *req);
void gb_handle_list_transactions(gb_broker *b, gb_request *req);
void gb_handle_describe_cluster(gb_broker *b, gb_request *req);
void gb_handle_offset_for_leader_epoch(gb_broker *b, gb_request *req);
void gb_handle_elect_leaders(gb_broker *b, gb_request *req);
void gb_handle_alter_partition_reassignments(gb_broker *b, gb_request *req);
void gb_handle_list_partition_reassignments(gb_broker *b, gb_request *req);
/* InitProducerId with a transactional id (api/gb_txn_api.c). */
void gb_txn_api_init_producer_id(gb_broker *b, gb_request *req);

/* Answer an ApiVersions request whose version the broker does not know:
 * a v0 response with UNSUPPORTED_VERSION and the supported table. */
void gb_api_versions_unsupported(gb_broker *b, gb_request *req);

#endif
