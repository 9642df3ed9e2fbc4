package jobs

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the layout version of the bbolt store this program writes.
const SchemaVersion = 1

// lockTimeout bounds the wait for bbolt's file lock: a second process gets
// ErrStoreLocked quickly instead of hanging.
const lockTimeout = time.Second

// ErrStoreLocked is returned by OpenStore when another process holds the store.
var ErrStoreLocked = errors.New("state store is in use by another process")

var (
	bucketMeta      = []byte("meta")
	bucketJobs      = []byte("jobs")       // id -> JSON Job
	bucketByCreated = []byte("by_created") // 8-byte big-endian CreatedAt unix nanos + id -> nil
	keyVersion      = []byte("schema_version")
)

// BoltStore is the Store kept in one bbolt file. It is safe for concurrent use.
type BoltStore struct {
	db   *bolt.DB
	path string
}

var _ Store = (*BoltStore)(nil)

// OpenStore opens the store at path, creating the file (mode 0600) and its
// directory (0700) on first start. It refuses a store written by a newer
// program (a higher schema version) and a store another process holds open.
func OpenStore(path string) (*BoltStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create state directory %s: %w", filepath.Dir(path), err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open state store %s: %w (is another hubble-applianceapi running?)", path, ErrStoreLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open state store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if v := meta.Get(keyVersion); v != nil {
			n, err := strconv.Atoi(string(v))
			if err != nil {
				return fmt.Errorf("read schema version %q: %w", v, err)
			}
			if n > SchemaVersion {
				return fmt.Errorf("schema version %d is newer than this program supports (%d); upgrade hubble-applianceapi or restore the previous state_dir", n, SchemaVersion)
			}
		} else if err := meta.Put(keyVersion, []byte(strconv.Itoa(SchemaVersion))); err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketJobs); err != nil {
			return err
		}
		if _, err = tx.CreateBucketIfNotExists(bucketByCreated); err != nil {
			return err
		}
		return indexRefused(tx)
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open state store %s: %w", path, err)
	}
	return &BoltStore{db: db, path: path}, nil
}

// Path returns the store's file name.
func (s *BoltStore) Path() string { return s.path }

// Close releases the file and its lock.
func (s *BoltStore) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close state store %s: %w", s.path, err)
	}
	return nil
}

func createdKey(j Job) []byte {
	k := make([]byte, 8, 8+len(j.ID))
	binary.BigEndian.PutUint64(k, uint64(j.CreatedAt.UnixNano()))
	return append(k, j.ID...)
}

// Put implements Store.
func (s *BoltStore) Put(ctx context.Context, job Job) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store job %s: %w", job.ID, err)
	}
	if job.ID == "" {
		return errors.New("store job: empty id")
	}
	data, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("store job %s: %w", job.ID, err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		jobs, idx := tx.Bucket(bucketJobs), tx.Bucket(bucketByCreated)
		if old := jobs.Get([]byte(job.ID)); old != nil {
			var prev Job
			if err := json.Unmarshal(old, &prev); err == nil && !prev.CreatedAt.Equal(job.CreatedAt) {
				if err := idx.Delete(createdKey(prev)); err != nil {
					return err
				}
			}
		}
		if err := jobs.Put([]byte(job.ID), data); err != nil {
			return err
		}
		return idx.Put(createdKey(job), nil)
	})
	if err != nil {
		return fmt.Errorf("store job %s: %w", job.ID, err)
	}
	return nil
}

// Get implements Store.
func (s *BoltStore) Get(ctx context.Context, id string) (Job, error) {
	var job Job
	if err := ctx.Err(); err != nil {
		return job, fmt.Errorf("read job %s: %w", id, err)
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketJobs).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		return json.Unmarshal(v, &job)
	})
	if err != nil {
		return Job{}, fmt.Errorf("read job %s: %w", id, err)
	}
	return job, nil
}

// List implements Store.
func (s *BoltStore) List(ctx context.Context, q Query) ([]Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	var out []Job
	err := s.db.View(func(tx *bolt.Tx) error {
		jobs := tx.Bucket(bucketJobs)
		c := tx.Bucket(bucketByCreated).Cursor()
		k, _ := c.Last()
		if q.Before != "" {
			v := jobs.Get([]byte(q.Before))
			if v == nil {
				return fmt.Errorf("job %s: %w", q.Before, ErrNotFound)
			}
			var from Job
			if err := json.Unmarshal(v, &from); err != nil {
				return fmt.Errorf("decode job %s: %w", q.Before, err)
			}
			if k, _ = c.Seek(createdKey(from)); k != nil {
				k, _ = c.Prev()
			}
		}
		for ; k != nil; k, _ = c.Prev() {
			if q.Limit > 0 && len(out) >= q.Limit {
				break
			}
			id := k[8:]
			v := jobs.Get(id)
			if v == nil {
				continue // index entry without record: cannot happen, tolerate it
			}
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("decode job %s: %w", id, err)
			}
			if q.Match == nil || q.Match(j) {
				out = append(out, j)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return out, nil
}

// DeleteFinishedBefore implements Store.
func (s *BoltStore) DeleteFinishedBefore(ctx context.Context, t time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("prune jobs: %w", err)
	}
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		jobs := tx.Bucket(bucketJobs)
		var doomed []Job
		err := jobs.ForEach(func(k, v []byte) error {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("decode job %s: %w", k, err)
			}
			end := j.FinishedAt
			if end.IsZero() {
				end = j.CreatedAt
			}
			if j.Status.Terminal() && end.Before(t) {
				doomed = append(doomed, j)
			}
			return nil
		})
		if err != nil {
			return err
		}
		// Deleting while iterating a bucket is unsafe in bbolt: delete afterwards.
		for _, j := range doomed {
			if err := deleteJob(tx, j); err != nil {
				return err
			}
		}
		n = len(doomed)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune jobs: %w", err)
	}
	return n, nil
}
