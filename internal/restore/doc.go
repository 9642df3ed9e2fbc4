// Package restore owns the `restore` command's procedure (SPEC section 6):
// verify the archive, extract it safely into a staging folder of temp_dir,
// run the replication step (import the repository export as the
// replication user, create the destination login roles and schemas), then
// hand the database step to the engine's restore side, and report: the
// plan (--dry-run), restore_output.txt with every failing statement, and a
// summary. It decides nothing about SQL; the engine does.
package restore
