/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The io.orchd.Manager varlink methods, implemented on the Manager's jobs. */

#include "manager.h"

/* Create the control server on m->config.socket_path (or the socket systemd passed) with every method.
 * Returns 0 or -errno (logged). */
int methods_attach(Manager *m);
