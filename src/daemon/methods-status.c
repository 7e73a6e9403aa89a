/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * methods-status.c — the Status (and settled Wait) reply of a job, in slices when the job is big.
 *
 * Owns: each Slicer (its reference to the call, its encoder and its event source) until it answers.
 * Encoding 100,000 nodes takes about 100 ms; done in one go it would keep every other client waiting that
 * long. A big job's reply is begun at once (the job as it is now: statusenc_begin() copies its nodes) and
 * its nodes encoded STATUS_SLICE_NODES at a time from an idle-priority source, so control calls and
 * everything else run in between. Node ids are read from the job's spec at each slice: a job removed
 * meanwhile (its spec freed) ends the slicing with NoSuchJob, checked before every slice.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "macro.h"
#include "methods-internal.h"
#include "protocol.h"
#include "statusenc.h"

/* Jobs with fewer nodes are encoded in one go (a few ms at most). */
#define STATUS_SLICE_MIN_NODES 20000U
/* About 5 ms of encoding per slice. */
#define STATUS_SLICE_NODES 5000U

typedef struct Slicer Slicer;

struct Slicer {
        Methods *methods;
        ControlCall *call; /* a reference */
        uint64_t id;
        const JobSpec *spec; /* the job's, borrowed: valid while manager_find_job(id) has it */
        StatusEnc *enc;
        sd_event_source *source;
        Slicer *next;
};

static void slicer_free(Slicer *sl) {
        Slicer **p;

        for (p = &sl->methods->slicers; *p; p = &(*p)->next)
                if (*p == sl) {
                        *p = sl->next;
                        break;
                }
        sd_event_source_disable_unref(sl->source);
        statusenc_free(sl->enc);
        control_call_unref(sl->call);
        free(sl);
}

static int reply_now(Methods *ms, ControlCall *call, const Job *j, json_object *p) {
        if (!p)
                return -ENOMEM;
        if (j->spec->n_nodes >= BIG_JOB_NODES)
                manager_trim_later(
                        ms->manager); /* not after each reply: a trim stalls the loop about 70 ms */
        return methods_reply_view(ms, call, j, p);
}

static int slicer_on_defer(sd_event_source *s, void *userdata) {
        Slicer *sl = userdata;
        Job *j = manager_find_job(sl->methods->manager, sl->id);
        char id[24];
        int r;

        if (!j || j->spec != sl->spec) { /* removed meanwhile */
                snprintf(id, sizeof(id), "%" PRIu64, sl->id);
                (void) methods_reply_with_id(sl->call, ORCH_ERROR_NO_SUCH_JOB, id, NULL);
                slicer_free(sl);
                return 0;
        }
        r = statusenc_step(sl->enc, sl->spec, STATUS_SLICE_NODES);
        if (r == 0)
                return 0; /* the next slice in a later iteration */
        if (r > 0)
                r = reply_now(sl->methods, sl->call, j, statusenc_finish(TAKE_PTR(sl->enc)));
        if (r < 0)
                (void) control_call_error(sl->call, ORCH_ERROR_INTERNAL, NULL);
        slicer_free(sl);
        return 0;
}

int methods_reply_status(Methods *ms, ControlCall *call, const Job *j) {
        _cleanup_free_ Slicer *sl = NULL;
        int r;

        if (j->spec->n_nodes < STATUS_SLICE_MIN_NODES)
                return reply_now(ms, call, j, job_status_reply(j));
        sl = calloc(1, sizeof(Slicer));
        if (!sl)
                return -ENOMEM;
        *sl = (Slicer){ .methods = ms, .id = j->id, .spec = j->spec };
        r = statusenc_begin(j->spec, j->run, &sl->enc);
        if (r < 0)
                return r;
        r = sd_event_add_defer(ms->manager->event, &sl->source, slicer_on_defer, sl);
        if (r >= 0)
                r = sd_event_source_set_priority(sl->source, SD_EVENT_PRIORITY_IDLE);
        if (r >= 0) /* a defer source is one-shot when made: this one runs until the last slice */
                r = sd_event_source_set_enabled(sl->source, SD_EVENT_ON);
        if (r < 0) {
                sd_event_source_disable_unref(sl->source);
                statusenc_free(sl->enc);
                return r;
        }
        (void) sd_event_source_set_description(sl->source, "status-slices");
        sl->call = control_call_ref(call);
        /* Held back as the reply itself would be, were it queued at once (output budgets, control.c). */
        control_call_reserve_output(call, statusenc_size_hint(j->spec));
        sl->next = ms->slicers;
        ms->slicers = TAKE_PTR(sl);
        return 0;
}

void methods_status_free_all(Methods *ms) {
        while (ms->slicers)
                slicer_free(ms->slicers);
}
