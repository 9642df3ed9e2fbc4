package postgres

import "context"

// faultPoint, when set, becomes every engine's afterCommit: binaries built
// with -tags faultpoints (for tests that kill a restore at a named point,
// see faultpoint_on.go) set it; others never do.
var faultPoint func(ctx context.Context, point string)
