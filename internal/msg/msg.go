// Package msg produces the user-facing failure messages of SPEC section 7,
// in one place, so the job Message, the CLI's stderr and the log agree word
// for word. Each message is an *Error that still wraps its cause for errors.Is.
package msg

import (
	"fmt"
	"strings"
)

// Error is a failure whose Error() text is exactly a SPEC section 7 message.
type Error struct {
	Text  string
	Cause error
}

func (e *Error) Error() string { return e.Text }
func (e *Error) Unwrap() error { return e.Cause }

func newf(cause error, format string, a ...any) *Error {
	return &Error{Text: fmt.Sprintf(format, a...), Cause: cause}
}

// JobNotFound is the text for an unknown job id.
const JobNotFound = "Job with a given ID was not found."

// UnableToMove reports a failed publish (rename) of the archive.
func UnableToMove(cause error) *Error {
	return newf(cause, "Unable to move file: %v", cause)
}

// Command reports a failed system command. argv is shown joined by spaces;
// callers pass it free of secrets (they travel by environment only).
func Command(argv []string, detail string, cause error) *Error {
	return newf(cause, "An error occurred while executing system command: %s. Error: %s", strings.Join(argv, " "), detail)
}

// NotEnoughSpace reports a location with less than the required free space.
func NotEnoughSpace(location string, requiredMB, leftMB int64) *Error {
	return newf(nil, "Not enough space is left in '%s': minimum required %dMB, space left %dMB.", location, requiredMB, leftMB)
}

// UnknownDrive reports a location whose filesystem could not be queried.
func UnknownDrive(location string, cause error) *Error {
	return newf(cause, "Unable to determine the drive of path '%s'", location)
}

// NoDirectory reports a missing directory.
func NoDirectory(location string) *Error {
	return newf(nil, "Directory '%s' does not exist.", location)
}

// NoFile reports a missing file.
func NoFile(location string) *Error {
	return newf(nil, "File %s does not exist.", location)
}

// NoConnection reports an unreachable database; dsn must already be
// stripped of its password.
func NoConnection(detail string, cause error) *Error {
	return newf(cause, "Unable to connect to the database: %s", detail)
}

// NoSchema reports a schema missing from the database.
func NoSchema(schema, database string) *Error {
	return newf(nil, "Schema '%s' does not exist in database '%s'.", schema, database)
}

// CopyFailed reports an off-site target that failed; the local archive,
// complete, was kept. cause starts with "target NAME: ".
func CopyFailed(cause error, kept string) *Error {
	return newf(cause, "Off-site copy failed: %s. The local archive was kept: %s", sentence(cause), kept)
}

// sentence is err's text without a final period (one is added after it).
func sentence(err error) string { return strings.TrimRight(err.Error(), ". ") }

// CopyWarning is the warning a job's Message carries when an optional
// off-site target failed.
func CopyWarning(cause error, kept string) *Error {
	return newf(cause, "Warning: off-site copy to an optional target failed: %s. The local archive was kept: %s", sentence(cause), kept)
}
