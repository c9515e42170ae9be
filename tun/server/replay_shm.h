/* replay_shm.h — the nonce table shared by --workers processes. */
#ifndef WSF_TUN_SERVER_REPLAY_SHM_H
#define WSF_TUN_SERVER_REPLAY_SHM_H

#include <stddef.h>
#include <stdint.h>

#include "proto/replay.h"

struct replay_shm;
/* Maps a table of cap slots shared with children forked later. NULL on
 * failure. */
struct replay_shm *replay_shm_new(size_t cap);
void replay_shm_free(struct replay_shm *r, size_t cap);
/* replay_check under the table's lock; REPLAY_FULL (refuse) when the lock
 * cannot be had. */
enum replay_rc replay_shm_check(struct replay_shm *r, const uint8_t nonce[16], uint64_t last,
                                uint64_t now);

#endif
