package s3

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
)

// BenchmarkTarget_Upload streams a 64 MiB archive to the local S3 server
// (SeaweedFS) through Create, Write and Commit (the part uploads and the
// check after completion), as a backup's copy does.
func BenchmarkTarget_Upload(b *testing.B) {
	data := make([]byte, 64<<20)
	rand.Read(data)
	tg := newBenchTarget(b)
	ctx := context.Background()
	b.SetBytes(int64(len(data)))
	for i := 0; b.Loop(); i++ {
		o, err := tg.Create(ctx, "bench", func(int) string { return fmt.Sprintf("b%d.tar.gz", i) })
		if err != nil {
			b.Fatal(err)
		}
		for off := 0; off < len(data); off += 1 << 20 {
			o.Write(data[off : off+1<<20])
		}
		if _, err := o.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
