// Package daemon is the composition root: it builds the engine, storage
// target, pipeline, job manager, scheduler and HTTP API from the
// configuration and owns their start/stop order. Only it and cmd import
// concrete engines and storage targets.
package daemon
