/*
 * Page-cache residency of file ranges, for the broker's page-cache budget
 * (broker/core/gb_cache): which bytes a read would have to wait for the disk
 * for, bringing them in off the loop thread, and dropping bytes that are
 * on disk from the cache.
 *
 * gs_file_resident is cheap enough for the loop thread (a mapping, a
 * mincore and an unmap, no I/O). gs_file_warm and gs_file_evict wait for
 * the disk: a worker thread's calls.
 */
#ifndef GS_PAGECACHE_H
#define GS_PAGECACHE_H

#include <stdint.h>

/* 1 if every page of [pos, pos + len) of fd is in the page cache, 0 if
 * one is not, a negative errno if the kernel cannot tell. */
int gs_file_resident(int fd, int64_t pos, int64_t len);

/* Read [pos, pos + len) of fd into the page cache (no copy to user space
 * where the kernel allows it). 0 or a negative errno. */
int gs_file_warm(int fd, int64_t pos, int64_t len);

/* Write [pos, pos + len) of fd back to disk (data only, waiting for it)
 * and drop those pages from the page cache, with the clean ones before pos
 * in the same 2 MiB (large folios go whole or not at all). 0 or a negative
 * errno. */
int gs_file_evict(int fd, int64_t pos, int64_t len);

#endif
