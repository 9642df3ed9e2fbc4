package msg

import (
	"errors"
	"testing"
)

func TestMessages(t *testing.T) {
	cause := errors.New("boom")
	tests := []struct {
		got  error
		want string
	}{
		{UnableToMove(cause), "Unable to move file: boom"},
		{Command([]string{"repctl", "exportrepository", "json_file=/x"}, "license expired", cause),
			"An error occurred while executing system command: repctl exportrepository json_file=/x. Error: license expired"},
		{NotEnoughSpace("/b", 2048, 12), "Not enough space is left in '/b': minimum required 2048MB, space left 12MB."},
		{UnknownDrive("/b", cause), "Unable to determine the drive of path '/b'"},
		{NoDirectory("/b"), "Directory '/b' does not exist."},
		{NoFile("/t/a.json"), "File /t/a.json does not exist."},
		{NoConnection("connect to postgres://u@h/db: refused", cause), "Unable to connect to the database: connect to postgres://u@h/db: refused"},
		{NoSchema("hubble", "db"), "Schema 'hubble' does not exist in database 'db'."},
	}
	for _, tt := range tests {
		if tt.got.Error() != tt.want {
			t.Errorf("got %q\nwant %q", tt.got, tt.want)
		}
	}
	if !errors.Is(UnableToMove(cause), cause) {
		t.Error("cause not wrapped")
	}
}
