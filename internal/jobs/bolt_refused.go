package jobs

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Jobs that never ran (refused by the limit of active jobs, skipped scheduled
// runs, jobs failing their pre-flight check at once) cost a record each and
// can be asked for by anyone who reaches Execute: the store keeps only the
// newest of them. bucketRefused indexes them by creation (the keys of
// bucketByCreated), and keyRefusedCount in bucketMeta counts them.
var (
	bucketRefused   = []byte("refused")
	keyRefusedCount = []byte("refused_count")
)

// neverRan reports whether j is the record of a job that never ran.
func neverRan(j Job) bool { return j.Status.Terminal() && j.StartedAt.IsZero() }

// indexRefused creates the refused index on first use, indexing what a
// store written before it holds.
func indexRefused(tx *bolt.Tx) error {
	if tx.Bucket(bucketRefused) != nil {
		return nil
	}
	idx, err := tx.CreateBucket(bucketRefused)
	if err != nil {
		return err
	}
	n := uint64(0)
	err = tx.Bucket(bucketJobs).ForEach(func(k, v []byte) error {
		var j Job
		if err := json.Unmarshal(v, &j); err != nil {
			return fmt.Errorf("decode job %s: %w", k, err)
		}
		if !neverRan(j) {
			return nil
		}
		n++
		return idx.Put(createdKey(j), nil)
	})
	if err != nil {
		return err
	}
	return setRefusedCount(tx, n)
}

func refusedCount(tx *bolt.Tx) uint64 {
	if v := tx.Bucket(bucketMeta).Get(keyRefusedCount); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func setRefusedCount(tx *bolt.Tx, n uint64) error {
	return tx.Bucket(bucketMeta).Put(keyRefusedCount, binary.BigEndian.AppendUint64(nil, n))
}

// deleteJob removes j's record and every index entry of it.
func deleteJob(tx *bolt.Tx, j Job) error {
	k := createdKey(j)
	if err := tx.Bucket(bucketJobs).Delete([]byte(j.ID)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketByCreated).Delete(k); err != nil {
		return err
	}
	refused := tx.Bucket(bucketRefused)
	if refused.Get(k) == nil {
		return nil
	}
	if err := refused.Delete(k); err != nil {
		return err
	}
	if n := refusedCount(tx); n > 0 {
		return setRefusedCount(tx, n-1)
	}
	return nil
}

// PutRefused implements Store.
func (s *BoltStore) PutRefused(ctx context.Context, job Job, keep int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("store job %s: %w", job.ID, err)
	}
	if job.ID == "" {
		return 0, errors.New("store job: empty id")
	}
	if !neverRan(job) {
		return 0, fmt.Errorf("store job %s: status %s, started %v: not a job that never ran", job.ID, job.Status, job.StartedAt)
	}
	data, err := json.Marshal(job)
	if err != nil {
		return 0, fmt.Errorf("store job %s: %w", job.ID, err)
	}
	evicted := 0
	err = s.db.Update(func(tx *bolt.Tx) error {
		jobs, refused := tx.Bucket(bucketJobs), tx.Bucket(bucketRefused)
		if jobs.Get([]byte(job.ID)) != nil {
			return fmt.Errorf("a job with id %s exists", job.ID)
		}
		k := createdKey(job)
		if err := jobs.Put([]byte(job.ID), data); err != nil {
			return err
		}
		if err := tx.Bucket(bucketByCreated).Put(k, nil); err != nil {
			return err
		}
		if err := refused.Put(k, nil); err != nil {
			return err
		}
		n := refusedCount(tx) + 1
		// Evict the oldest beyond keep; the new record is the newest.
		c := refused.Cursor()
		var doomed [][]byte
		for old, _ := c.First(); old != nil && n-uint64(len(doomed)) > uint64(max(keep, 1)); old, _ = c.Next() {
			doomed = append(doomed, append([]byte(nil), old...))
		}
		for _, old := range doomed {
			for _, b := range [][]byte{bucketByCreated, bucketRefused} {
				if err := tx.Bucket(b).Delete(old); err != nil {
					return err
				}
			}
			if err := jobs.Delete(old[8:]); err != nil {
				return err
			}
		}
		evicted = len(doomed)
		return setRefusedCount(tx, n-uint64(evicted))
	})
	if err != nil {
		return 0, fmt.Errorf("store job %s: %w", job.ID, err)
	}
	return evicted, nil
}
