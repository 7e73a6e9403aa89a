/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * supervise-wire.c — TaskParams and TaskResult on the keeper wire (supervise-wire.h).
 *
 * Invariant: each struct has one encoder and one decoder, reading the fields in the writer's order; a
 * field of supervise.h that is not on the wire is named in the header, with why.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "exec-proto.h"
#include "macro.h"
#include "spawnrec.h"
#include "supervise-wire.h"

void task_params_encode(KeeperWriter *w, const TaskParams *p) {
        keeper_put_strv(w, p->argv);
        keeper_put_strv(w, p->env);
        keeper_put_str(w, p->cwd);
        keeper_put_str(w, p->log_name);
        keeper_put_u64(w, p->log_max_bytes);
        keeper_put_u64(w, p->log_min_free);
        keeper_put_u64(w, p->log_min_inodes);
        keeper_put_u64(w, p->timeout_usec);
        keeper_put_u64(w, p->kill_grace_usec);
        keeper_put_bool(w, p->cred);
        keeper_put_u32(w, p->cred ? (uint32_t) p->cred->uid : 0);
        keeper_put_str(w, p->cred ? p->cred->user : NULL);
        keeper_put_u32(w, (uint32_t) p->umask);
        keeper_put_str(w, p->pam_confdir);
        keeper_put_str(w, p->record_prefix);
        keeper_put_str(w, p->journal_node);
        keeper_put_u64(w, p->journal_job);
        keeper_put_u32(w, p->journal_attempt);
        keeper_put_bool(w, p->merge_output);
        keeper_put_bool(w, p->cgroup_fd > 2); /* the fd rides beside the message */
        keeper_put_u32(w, p->cgroup_controllers);
}

int task_params_decode(KeeperReader *r, TaskParamsWire *ret) {
        TaskParams *p = &ret->params;
        bool has_cred;
        uint32_t mask;
        int k;

        *ret = (TaskParamsWire){};
        k = keeper_get_strv(r, &ret->argv);
        if (k < 0)
                return k;
        k = keeper_get_strv(r, &ret->env);
        if (k < 0)
                return k;
        *p = (TaskParams){
                .argv = ret->argv,
                .env = ret->env,
                .log_dir_fd = -EBADF,
                .record_fd = -EBADF,
                .cgroup_fd = -EBADF,
        };
        p->cwd = keeper_get_str(r);
        p->log_name = keeper_get_str(r);
        p->log_max_bytes = keeper_get_u64(r);
        p->log_min_free = keeper_get_u64(r);
        p->log_min_inodes = keeper_get_u64(r);
        p->timeout_usec = keeper_get_u64(r);
        p->kill_grace_usec = keeper_get_u64(r);
        has_cred = keeper_get_bool(r);
        ret->cred.uid = (uid_t) keeper_get_u32(r);
        ret->cred.user = keeper_get_str(r);
        mask = keeper_get_u32(r);
        p->pam_confdir = keeper_get_str(r);
        p->record_prefix = keeper_get_str(r);
        p->journal_node = keeper_get_str(r);
        p->journal_job = keeper_get_u64(r);
        p->journal_attempt = keeper_get_u32(r);
        p->merge_output = keeper_get_bool(r);
        ret->cgroup = keeper_get_bool(r);
        p->cgroup_controllers = keeper_get_u32(r);
        if (r->error < 0)
                return r->error;
        p->umask = (mode_t) mask;
        p->cred = has_cred ? &ret->cred : NULL;
        /* The shape task_spawn() relies on; a node's own values were checked when its job was accepted. */
        if (!ret->argv[0] || !p->log_name || mask > 0777 || (has_cred && !ret->cred.user) ||
            (p->record_prefix && strlen(p->record_prefix) > SPAWN_PREFIX_MAX))
                return r->error = -EBADMSG;
        return 0;
}

void task_params_wire_done(TaskParamsWire *w) {
        free(w->argv);
        free(w->env);
        *w = (TaskParamsWire){};
}

void task_result_encode(KeeperWriter *w, const TaskResult *res) {
        keeper_put_u8(w, (uint8_t) res->end);
        keeper_put_i32(w, res->exit_code);
        keeper_put_i32(w, res->signal);
        keeper_put_bool(w, res->timed_out);
        keeper_put_bool(w, res->stopped);
        keeper_put_u64(w, res->log_dropped);
        keeper_put_u64(w, res->started_at);
        keeper_put_u64(w, res->finished_at);
        keeper_put_i32(w, res->start_error);
        keeper_put_i32(w, res->start_account);
        keeper_put_bool(w, res->start_cwd);
        keeper_put_u64(w, res->cpu_usec);
        keeper_put_u64(w, res->cpu_user_usec);
        keeper_put_u64(w, res->cpu_system_usec);
        keeper_put_u64(w, res->memory_peak);
        keeper_put_u64(w, res->pids_peak);
        keeper_put_u64(w, res->io_read_bytes);
        keeper_put_u64(w, res->io_write_bytes);
        keeper_put_u64(w, res->oom_kills);
}

int task_result_decode(KeeperReader *r, TaskResult *ret) {
        uint8_t end;

        /* One statement per field: the order of an initializer list's evaluations is unspecified. */
        *ret = (TaskResult){};
        end = keeper_get_u8(r);
        ret->end = end == TASK_SIGNALED ? TASK_SIGNALED : TASK_EXITED;
        ret->exit_code = keeper_get_i32(r);
        ret->signal = keeper_get_i32(r);
        ret->timed_out = keeper_get_bool(r);
        ret->stopped = keeper_get_bool(r);
        ret->log_dropped = keeper_get_u64(r);
        ret->started_at = keeper_get_u64(r);
        ret->finished_at = keeper_get_u64(r);
        ret->start_error = keeper_get_i32(r);
        ret->start_account = keeper_get_i32(r);
        ret->start_cwd = keeper_get_bool(r);
        ret->cpu_usec = keeper_get_u64(r);
        ret->cpu_user_usec = keeper_get_u64(r);
        ret->cpu_system_usec = keeper_get_u64(r);
        ret->memory_peak = keeper_get_u64(r);
        ret->pids_peak = keeper_get_u64(r);
        ret->io_read_bytes = keeper_get_u64(r);
        ret->io_write_bytes = keeper_get_u64(r);
        ret->oom_kills = keeper_get_u64(r);
        if (r->error < 0)
                return r->error;
        /* What job.c turns into a state and a reason: nothing it could index out of range. */
        if (end > TASK_SIGNALED || ret->exit_code < 0 || ret->exit_code > 255 || ret->signal < 0 ||
            ret->signal > 64 || ret->start_error > 0 || ret->start_account < 0 ||
            ret->start_account >= _EXEC_ACCOUNT_MAX)
                return r->error = -EBADMSG;
        return 0;
}

char *task_end_format(uint32_t node, unsigned attempt, const TaskResult *res) {
        _cleanup_free_ char *b64 = NULL;
        KeeperWriter w;
        char *line;

        keeper_writer_init_body(&w, KEEPER_MSG_MAX);
        task_result_encode(&w, res);
        if (w.error >= 0)
                b64 = base64_encode(w.buf, w.len);
        keeper_writer_done(&w);
        if (!b64 || asprintf(&line, "%" PRIu32 " %u %s\n", node, attempt, b64) < 0)
                return NULL;
        return line;
}

int task_end_parse(const char *line, uint32_t *ret_node, unsigned *ret_attempt, TaskResult *ret) {
        _cleanup_free_ unsigned char *bytes = NULL;
        char b64[512];
        KeeperReader r;
        size_t n;
        int end = 0, k;

        if (sscanf(line, "%" SCNu32 " %u %511s%n", ret_node, ret_attempt, b64, &end) != 3 ||
            line[end] != '\0')
                return -EBADMSG;
        k = base64_decode(b64, &bytes, &n);
        if (k < 0)
                return k == -ENOMEM ? k : -EBADMSG;
        keeper_reader_init_body(&r, bytes, n);
        k = task_result_decode(&r, ret);
        if (k >= 0)
                k = keeper_reader_finish(&r);
        return k;
}
