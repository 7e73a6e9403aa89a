/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/rejected.c — "orchctl rejected [NAME] [--file]": your rejected job
 * files (rejected/ itself is root's alone). Without NAME a table of them with
 * the first line of each error; with NAME the whole error; with --file the
 * file's bytes, as they were dropped, so it can be fixed and submitted again.
 * Everything from the daemon is escaped on output except the file's bytes,
 * which are the caller's own (like cat).
 */

#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "base64.h"
#include "json-util.h"
#include "orchctl.h"

static int rejected_table(json_object *files) {
        size_t n = json_object_array_length(files);
        bool owners = getuid() == 0;
        Table t = {};
        int r = 0;

        if (n == 0) {
                puts("No rejected files.");
                return EXIT_SUCCESS;
        }
        /* An OWNER column only when the list can hold others' files (root, AdminGroup=). */
        for (size_t i = 0; i < n; i++) {
                int64_t uid = -1;

                (void) get_int(json_object_array_get_idx(files, i), "uid", &uid);
                owners = owners || uid != (int64_t) getuid();
        }
        t.n_columns = owners ? 4 : 3;
        const char *head[] = { "NAME", "REJECTED", owners ? "OWNER" : "ERROR", "ERROR" };
        for (size_t i = 0; i < t.n_columns && r >= 0; i++)
                r = table_add(&t, head[i], NULL);
        for (size_t i = 0; i < n && r >= 0; i++) {
                json_object *f = json_object_array_get_idx(files, i);
                char when[64];

                r = table_add(&t, get_string(f, "name"), NULL);
                if (r >= 0)
                        r = table_add(&t,
                                      format_local_time(get_string(f, "time"), false, when, sizeof(when)),
                                      NULL);
                if (r >= 0 && owners)
                        r = table_add(&t,
                                      get_string(f, "user") ?:
                                              json_object_get_string(reply_member(f, "uid", json_type_int)),
                                      NULL);
                if (r >= 0)
                        r = table_add(&t, get_string(f, "error"), NULL);
        }
        if (r >= 0)
                table_print(&t);
        table_done(&t);
        return r < 0 ? fail(EX_SOFTWARE, "out of memory") : EXIT_SUCCESS;
}

static int rejected_show(json_object *f) {
        const char *user = get_string(f, "user");
        json_object *removed = reply_member(f, "removed", json_type_boolean);
        char when[64];
        int64_t uid = -1;

        (void) get_int(f, "uid", &uid);
        printf("%12s: %s\n", "Name", escaped(strna(get_string(f, "name"))));
        if (get_string(f, "original"))
                printf("%12s: %s\n", "Dropped as", escaped(get_string(f, "original")));
        printf("%12s: %s (uid %" PRId64 ")\n", "Owner", user ? escaped(user) : "?", uid);
        printf("%12s: %s\n", "Rejected", format_local_time(get_string(f, "time"), true, when, sizeof(when)));
        printf("%12s: %s\n", "File",
               json_object_get_boolean(removed) ? "removed (it was not a regular file)" :
                                                  "kept (orchctl rejected NAME --file prints it)");
        putchar('\n');
        print_text_escaped(stdout, get_string(f, "error"));
        return EXIT_SUCCESS;
}

/* The file's bytes, exactly: they are the caller's own, as they dropped them. */
static int rejected_file(json_object *f, const char *name) {
        _cleanup_free_ unsigned char *bytes = NULL;
        const char *data = get_string(f, "data");
        size_t n;

        if (json_object_get_boolean(reply_member(f, "removed", json_type_boolean)) || !data)
                return fail(EX_NOINPUT,
                            "'%s' was not a regular file and was removed: there are no bytes to give back",
                            name);
        if (base64_decode(data, &bytes, &n) < 0)
                return fail(EX_SOFTWARE, "invalid reply from orchd: \"data\" is not base64");
        write_output((const char *) bytes, n);
        if (ferror(stdout) || fflush(stdout) != 0)
                return fail(EX_IOERR, "writing the file to stdout failed");
        return EXIT_SUCCESS;
}

int verb_rejected(char **args, size_t n_args) {
        _cleanup_json_ json_object *p = json_object_new_object(), *reply = NULL;
        json_object *files, *f;
        int r;

        if (!p)
                return fail(EX_SOFTWARE, "out of memory");
        if (arg_file && n_args == 0)
                return fail(EX_USAGE, "--file needs the NAME of a rejected file");
        if (n_args > 0 &&
            (json_object_object_add(p, "name", json_object_new_string(args[0])) < 0 ||
             json_object_object_add(p, "file", json_object_new_boolean(arg_file)) < 0))
                return fail(EX_SOFTWARE, "out of memory");
        r = call_once(ORCH_METHOD_REJECTED, p, NULL, &reply);
        if (r != 0)
                return r;
        files = reply_member(reply, "files", json_type_array);
        if (!files)
                return fail(EX_SOFTWARE, "invalid reply from orchd: no \"files\" array");
        if (arg_json)
                return print_json(n_args > 0 && json_object_array_length(files) == 1 ?
                                          json_object_array_get_idx(files, 0) :
                                          files);
        if (n_args == 0)
                return rejected_table(files);
        f = json_object_array_get_idx(files, 0);
        if (!f)
                return fail(EX_SOFTWARE, "invalid reply from orchd: no file in \"files\"");
        if (arg_file && json_object_array_length(files) > 1)
                return fail(EX_USAGE,
                            "several users have a rejected file named '%s'; orchctl rejected %s shows them "
                            "all, root can read each in rejected/UID/",
                            args[0], args[0]);
        if (arg_file)
                return rejected_file(f, args[0]);
        /* Root and AdminGroup= members may get one file of each of several owners. */
        for (size_t i = 0; i < json_object_array_length(files); i++) {
                if (i > 0)
                        putchar('\n');
                (void) rejected_show(json_object_array_get_idx(files, i));
        }
        return EXIT_SUCCESS;
}
