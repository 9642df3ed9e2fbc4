// Command weedbuild builds the SeaweedFS server the S3 tests run (or finds
// it in the cache) and prints where it is and how long the build took, so
// that scripts/test.sh pays for the build once, before the tests run in
// parallel, and CI's log shows its cost.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/s3test"
)

func main() {
	start := time.Now()
	bin, err := s3test.Binary(context.Background(), func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) })
	if err != nil {
		fmt.Fprintln(os.Stderr, "weedbuild:", err)
		os.Exit(1)
	}
	fmt.Printf("SeaweedFS %s: %s (%s)\n", s3test.Version, bin, time.Since(start).Round(time.Second))
}
