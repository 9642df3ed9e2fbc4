package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Server is a running `weed server -s3` on loopback ports with its data in
// a folder of its own.
type Server struct {
	// Endpoint is host:port of the S3 API (plain HTTP); TLSEndpoint the
	// same over HTTPS, when started with a certificate.
	Endpoint, TLSEndpoint string
	// AccessKey and SecretKey are the credentials of its one identity.
	AccessKey, SecretKey string

	bin, dir string
	args     []string
	sseKey   string // for SSE-S3 (sse: AES256): the server derives its key from it
	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	logFile  *os.File
}

// Start builds (or finds) the binary and starts a server whose data lives
// in dir; it returns once the S3 API answers. Stop it with Stop.
func Start(ctx context.Context, dir string, logf func(string, ...any)) (*Server, error) {
	return StartTLS(ctx, dir, "", "", logf)
}

// StartTLS is Start with an HTTPS listener too, serving the PEM certificate
// and key given ("" = none).
func StartTLS(ctx context.Context, dir, certFile, keyFile string, logf func(string, ...any)) (*Server, error) {
	bin, err := Binary(ctx, logf)
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(9)
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir, AccessKey: "hubble" + randHex(6), SecretKey: randHex(20), sseKey: randHex(32)}
	s.Endpoint = "127.0.0.1:" + strconv.Itoa(ports[0])
	conf := map[string]any{"identities": []any{map[string]any{
		"name":        "hubble-test",
		"credentials": []any{map[string]string{"accessKey": s.AccessKey, "secretKey": s.SecretKey}},
		"actions":     []string{"Admin", "Read", "List", "Tagging", "Write"},
	}}}
	b, _ := json.Marshal(conf)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	confFile := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(confFile, b, 0o600); err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	p := func(i int) string { return strconv.Itoa(ports[i]) }
	s.args = []string{"server", "-dir=" + data, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-s3", "-s3.port=" + p(0), "-s3.port.grpc=" + p(1), "-s3.config=" + confFile,
		"-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.iam=false",
		"-master.port=" + p(2), "-master.port.grpc=" + p(3), "-master.volumeSizeLimitMB=64",
		"-volume.port=" + p(4), "-volume.port.grpc=" + p(5), "-volume.max=0", "-volume.preStopSeconds=0",
		"-filer.port=" + p(6), "-filer.port.grpc=" + p(7),
	}
	if certFile != "" {
		s.TLSEndpoint = "127.0.0.1:" + p(8)
		s.args = append(s.args, "-s3.port.https="+p(8), "-s3.cert.file="+certFile, "-s3.key.file="+keyFile)
	}
	if s.logFile, err = os.Create(filepath.Join(dir, "weed.log")); err != nil {
		return nil, err
	}
	if err := s.start(ctx); err != nil {
		s.logFile.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) start(ctx context.Context) error {
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = s.logFile, s.logFile
	cmd.Env = append(os.Environ(), "WEED_S3_SSE_KEY="+s.sseKey)
	// Its own process group: Kill reaches every process it starts.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("seaweedfs: start %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	if err := s.waitReady(ctx, exited); err != nil {
		s.Kill()
		return err
	}
	return nil
}

// waitReady polls until a bucket can be created and removed: the S3
// gateway answers only once master, volume and filer are up.
func (s *Server) waitReady(ctx context.Context, exited chan struct{}) error {
	c, err := s.Client()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(90 * time.Second)
	probe := "ready-" + randHex(4)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("seaweedfs exited during start-up; its log:\n%s", s.Log())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		last = c.MakeBucket(pctx, probe, minio.MakeBucketOptions{})
		if minio.ToErrorResponse(last).Code == "BucketAlreadyOwnedByYou" {
			last = nil
		}
		if last == nil {
			// A write through the filer to a volume proves the data path too.
			_, last = c.PutObject(pctx, probe, "probe", bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{})
		}
		cancel()
		if last == nil {
			c.RemoveObject(ctx, probe, "probe", minio.RemoveObjectOptions{})
			c.RemoveBucket(ctx, probe)
			return nil
		}
		time.Sleep(200 * time.Millisecond) // polling interval while the server starts
	}
	return fmt.Errorf("seaweedfs: S3 API at %s not ready after 90 s: %v; its log:\n%s", s.Endpoint, last, s.Log())
}

// Client is a minio client with the server's credentials.
func (s *Server) Client() (*minio.Client, error) {
	return minio.New(s.Endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), BucketLookup: minio.BucketLookupPath,
	})
}

// Bucket creates a bucket with a fresh name and returns it.
func (s *Server) Bucket(ctx context.Context) (string, error) {
	c, err := s.Client()
	if err != nil {
		return "", err
	}
	name := "test-" + randHex(6)
	if err := c.MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
		return "", fmt.Errorf("make bucket %s: %w", name, err)
	}
	return name, nil
}

// Kill stops the server at once (SIGKILL to its process group), as a
// crash or a pulled cable would, and waits until it is gone.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
}

// Restart starts a killed server again on the same ports and data.
func (s *Server) Restart(ctx context.Context) error {
	s.Kill()
	return s.start(ctx)
}

// Stop ends the server and closes its log.
func (s *Server) Stop() {
	s.Kill()
	s.logFile.Close()
}

// Log returns the end of the server's output.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logFile.Name())
	return tail(b)
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		p := l.Addr().(*net.TCPAddr).Port
		// SeaweedFS derives nothing from these, but a grpc port is often
		// http+10000 elsewhere: keep clear of ports above 55535.
		if p > 55535 {
			continue
		}
		ports = append(ports, p)
	}
	if len(ports) < n {
		return nil, errors.New("no free ports")
	}
	return ports, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
