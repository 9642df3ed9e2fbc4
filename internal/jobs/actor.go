package jobs

import "context"

type actorKey struct{}

// WithActor returns ctx naming who asks for a job or its cancellation;
// Submit records it as the job's StartedBy, Cancel as its CanceledBy. The
// job system does not authenticate anyone: the caller has.
func WithActor(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, actorKey{}, name)
}

// Actor is the name WithActor put in ctx, or "".
func Actor(ctx context.Context) string {
	name, _ := ctx.Value(actorKey{}).(string)
	return name
}
