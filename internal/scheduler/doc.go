// Package scheduler owns the built-in schedule: it turns the `schedule:`
// entries of the configuration (cron expressions with a time zone) into calls
// of an enqueue function at the right times.
//
// It decides nothing about the runs themselves: a scheduled run is an ordinary
// job submitted through the caller's enqueue function, so the job queue (not
// the scheduler) applies the limits and records a skipped run.
package scheduler
