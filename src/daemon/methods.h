/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The io.orchd.Manager varlink methods over a Manager: a Methods object owns
 * the control server (control.h) with the method table, the replies held
 * until what they report is durable, the Status replies being encoded in
 * slices and the Logs streams. It sits above the manager: orchd.c makes it
 * after manager_new() and frees it before manager_free(); the manager reaches
 * it only through the hooks it installs (manager_set_hooks()).
 */

#include "macro.h"
#include "manager.h"

typedef struct Methods Methods;

/* Listen on m's socket path (or the socket systemd passed) with every method, and install m's hooks.
 * Returns 0 or -errno (logged). */
int methods_new(Manager *m, Methods **ret);

/* Close the control server and drop every held reply and stream without an answer (shutdown); removes the
 * hooks from the manager. Accepts NULL, returns NULL. */
Methods *methods_free(Methods *ms);
DEFINE_TRIVIAL_CLEANUP_FUNC(Methods *, methods_free);
