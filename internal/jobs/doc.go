// Package jobs owns the job lifecycle of the service: the job record and its
// states, the durable job store (bbolt in state_dir), and the Manager that
// queues, runs, cancels and recovers jobs.
//
// The package knows nothing about what a job does. It runs an opaque Work
// function, feeds it a context that is canceled on Cancel or Stop, and records
// what the work reports (phase, progress, message) and returns (Result or
// error). Every state change is committed to the store before any caller can
// observe it, so a Status answer never shows a state that a crash could lose.
package jobs
