/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The io.orchd.Manager varlink methods, implemented on the Manager's jobs. */

#include "manager.h"

/* Create the control server on m->config.socket_path (or the socket systemd passed) with every method.
 * Returns 0 or -errno (logged). */
int methods_attach(Manager *m);

/* Generation gen of the journal is durable: send the replies that waited for it. */
void methods_on_durable(Manager *m, uint64_t gen);

/* Drop every held reply (shutdown). */
void methods_free_held(Manager *m);

