/*
 * Kafka's rules for topic names, which also make them safe as directory
 * names: 1 to 249 characters of [a-zA-Z0-9._-], not "." or "..".
 */
#ifndef GS_NAMES_H
#define GS_NAMES_H

#include <stddef.h>

/* 0 if valid, else -1 with *why set to Kafka's explanation. */
int gs_topic_name_check(const char *name, size_t len, const char **why);

#endif
