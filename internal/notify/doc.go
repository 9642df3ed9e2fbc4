// Package notify owns the alerts of the service: a JSON event POSTed to the
// configured webhook when a job fails (and, if asked, when it succeeds), and
// the "dead man's switch" that raises a backup.stale event when no backup has
// succeeded for notify.stale_after.
//
// Sending is asynchronous and best effort by design: a notification is sent
// after the job's outcome is recorded, and a receiver that is down, slow or
// failing can delay or change nothing but its own retries, which are logged.
package notify
