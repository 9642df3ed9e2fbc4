package config

import (
	"strings"
	"testing"
)

const recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"

func TestParse_Offsite(t *testing.T) {
	good := `storage:
  targets:
    - name: offsite-1
      type: s3
      endpoint: "https://s3.eu-west-1.amazonaws.com"
      bucket: hubble-backups
      prefix: "appliance-01/"
      secret_access_key_file: /etc/hubble-applianceapi/s3.secret
      sse: aws:kms
      optional: true
      retention: {keep_last: 7, keep_days: 30}
encryption:
  age_recipients: ["` + recipient + `"]
drill:
  dsn: "postgres://scratch@localhost/scratch"
  identity_file: /root/drill.key
  schedule: [{cron: "0 5 * * 0"}]
`
	c, _, err := Parse(strings.NewReader(good), nil)
	if err != nil {
		t.Fatal(err)
	}
	tg, ok := c.TargetByName("offsite-1")
	if !ok || !tg.Optional || tg.Retention.KeepLast != 7 || tg.Location() != "s3://hubble-backups/appliance-01/" {
		t.Errorf("target = %+v", tg)
	}
	if c.Drill.Schedule[0].Cron != "0 5 * * 0" || len(c.Encryption.AgeRecipients) != 1 {
		t.Errorf("drill/encryption = %+v %+v", c.Drill, c.Encryption)
	}

	target := func(extra string) string {
		return "storage:\n  targets:\n    - {name: a, type: s3, endpoint: \"h:9000\", bucket: b" + extra + "}\n"
	}
	tests := []struct{ name, yaml, key string }{
		{"bad name", "storage:\n  targets:\n    - {name: A_1, type: s3, endpoint: h, bucket: b}\n", "storage.targets[0].name"},
		{"duplicate name", target("") + "    - {name: a, type: s3, endpoint: h, bucket: c}\n", "storage.targets[1].name"},
		{"type", "storage:\n  targets:\n    - {name: a, type: gcs, endpoint: h, bucket: b}\n", "storage.targets[0].type"},
		{"no endpoint", "storage:\n  targets:\n    - {name: a, type: s3, bucket: b}\n", "storage.targets[0].endpoint"},
		{"no bucket", "storage:\n  targets:\n    - {name: a, type: s3, endpoint: h}\n", "storage.targets[0].bucket"},
		{"absolute prefix", target(", prefix: /x/"), "storage.targets[0].prefix"},
		{"dot-dot prefix", target(", prefix: a/../b/"), "storage.targets[0].prefix"},
		{"sse", target(", sse: aes"), "storage.targets[0].sse"},
		{"retention", target(", retention: {keep_last: -1}"), "storage.targets[0].retention.keep_last"},
		{"secret in config", target(", secret_access_key: x"), "field secret_access_key not found"},
		{"recipient", "encryption:\n  age_recipients: [\"ssh-rsa AAAA\"]\n", "encryption.age_recipients[0]"},
		{"two recipients in one", "encryption:\n  age_recipients: [\"" + recipient + "\\n" + recipient + "\"]\n", "encryption.age_recipients[0]"},
		{"drill schedule without dsn", "drill:\n  schedule: [{cron: \"@daily\"}]\n", "drill.dsn"},
		{"drill on the source", "database: {dsn: \"postgres://h/db\"}\ndrill: {dsn: \"postgres://h/db\"}\n", "drill.dsn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse(strings.NewReader(tt.yaml), nil)
			if err == nil || !strings.Contains(err.Error(), tt.key) {
				t.Errorf("Parse = %v, want an error naming %s", err, tt.key)
			}
		})
	}
}
