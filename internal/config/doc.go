// Package config owns the service's configuration: the YAML schema of SPEC
// section 3, its defaults, the HUBBLE_* environment overrides and the
// validation that names the offending key. It imports no internal package.
package config
