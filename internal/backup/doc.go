// Package backup owns the backup pipeline: pre-flight checks, the
// replication export, one consistent database snapshot dumped by table
// workers into a staging folder, the archive streamed to the storage
// target while tables finish, and the atomic publish. It turns every
// failure into the SPEC section 7 message and leaves nothing behind.
package backup
