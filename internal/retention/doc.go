// Package retention owns the rules that decide which archives in the backup
// directory may be deleted (retention.keep_last and retention.keep_days) and
// the act of deleting them.
//
// It deliberately does not know the archive name pattern: that belongs to the
// archive package, so the caller passes the name parser in (ParseFunc). Only
// names the parser accepts are ever candidates, which keeps decoys, partial or
// temporary files and anything else an administrator stores beside the
// archives out of harm's way.
package retention
