/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The journal MESSAGE_IDs of orchd, one per event kind (SPEC section 7). Generated once with
 * `systemd-id128 new` and never changed: they are an interface (journalctl MESSAGE_ID=…, the catalog in
 * src/orchd.catalog, monitoring rules). A new kind gets a new id; an id is never reused for another kind.
 * Keep this list, src/orchd.catalog and the JOURNAL section of man/orchd.8 in step.
 */

#define ORCH_MESSAGE_DAEMON_READY "6a41e338f0464ffcab5b95a0dd9753f2"
#define ORCH_MESSAGE_JOB_ACCEPTED "7c68be6fd67a4eac96d337e1bc895bd9"
#define ORCH_MESSAGE_JOB_REJECTED "0c1553e4590e4a56b04decbf1b8c6c44"
#define ORCH_MESSAGE_JOB_STARTED "b48f79ab900340f4a9c22bf0b8430bed"
#define ORCH_MESSAGE_NODE_STARTED "ef09c5bf752e4d18867ca131821de84f"
#define ORCH_MESSAGE_NODE_FINISHED "9482981ca8354a02a27032d2350e5090"
#define ORCH_MESSAGE_NODE_RETRYING "c3949a116bdc4eca9842e609b3479531"
#define ORCH_MESSAGE_JOB_FINISHED "4e88f992da214a8ca8bf68c8d9e0109b"
#define ORCH_MESSAGE_RECOVERY "6e5ca25ac2174593983f2aeee08f32c3"
#define ORCH_MESSAGE_CONTROL "28e84bc956cb47939184a4f619ce3110"
#define ORCH_MESSAGE_FORWARDING "de0c6b84412a4d11915445442cdbc100"
