package backup_test

import (
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
