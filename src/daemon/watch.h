/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The Watch method (orchctl watch): live progress of one job, streamed to
 * its watchers one reply per durable commit of the job's records. The job
 * calls the hooks below only while it has watchers (j->watch set), so a job
 * nobody watches pays one pointer test per flush and per commit.
 */

#include <stdint.h>

#include <json-c/json.h>

#include "control.h"
#include "job.h"

typedef struct JobWatch JobWatch;

/* job_flush() is about to put j's dirty records into generation gen: remember what changed (the nodes of
 * j->dirty, the job's fields if j->job_dirty) to tell the watchers once gen is durable. Called before the
 * dirty lists are cleared. On OOM the daemon fail-stops, like any failure to record state. */
void watch_job_flush(Job *j, uint64_t gen);

/* Generation gen is durable: send the watchers what it holds (and first replies that waited for it). */
void watch_job_durable(Job *j, uint64_t gen);

/* The job's end is durable: send every watcher its final reply and drop them all. */
void watch_job_end(Job *j);

/* Drop every watcher without a reply (the job is being freed). Accepts NULL, returns NULL. */
JobWatch *watch_free(JobWatch *w);
