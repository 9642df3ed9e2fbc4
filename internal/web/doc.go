// Package web owns the web console, the appliance's administration tool:
// the page at "/" and its assets (plain HTML, CSS and JavaScript embedded in
// the binary, nothing fetched at run time), and the JSON it reads beside the
// REST API: the overview (free space, schedule, retention, last success,
// stale alarm), the archives of backup_dir with downloads and verification
// on demand, and a job's log lines.
//
// The console starts and cancels jobs through the REST API itself
// (POST /api/Backup/Execute and /Cancel), so it shows exactly what the API
// answers. Access control is not here: the API's handler mounts this one
// behind the same rule as every other endpoint (SPEC section 8). Archives are
// reached only through a storage.Target (List and Open), and verified by the
// archive package's Verify.
package web
