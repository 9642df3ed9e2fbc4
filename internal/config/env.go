package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// notKeys are HUBBLE_* variables that are not config keys and so never warn.
var notKeys = map[string]bool{"HUBBLE_CONFIG": true}

// EnvVar is one scalar key reachable by an environment override.
type EnvVar struct {
	Name string // HUBBLE_DATABASE_DSN
	Key  string // database.dsn
}

// EnvVars lists every overridable key, sorted by name (for docs and tests).
func EnvVars() []EnvVar {
	var out []EnvVar
	c := Default()
	walk(reflect.ValueOf(&c).Elem(), "", func(key string, _ reflect.Value) {
		out = append(out, EnvVar{Name: envName(key), Key: key})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func envName(key string) string {
	return "HUBBLE_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// walk calls fn for every scalar field, with its dotted YAML key path. Lists,
// maps and YAML nodes are not overridable (SPEC section 2).
func walk(v reflect.Value, prefix string, fn func(key string, f reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Struct:
			walk(f, key, fn)
		case reflect.String, reflect.Int, reflect.Int64, reflect.Bool:
			fn(key, f)
		}
	}
}

// applyEnv sets every key that has a HUBBLE_* variable in environ. Matching
// is against the known keys, so an underscore inside a key is no ambiguity.
func applyEnv(c *Config, environ []string) ([]string, error) {
	fields := map[string]reflect.Value{}
	keys := map[string]string{}
	walk(reflect.ValueOf(c).Elem(), "", func(key string, f reflect.Value) {
		fields[envName(key)] = f
		keys[envName(key)] = key
	})
	var warnings []string
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "HUBBLE_") || notKeys[name] || strings.HasPrefix(name, "HUBBLE_TEST_") {
			continue
		}
		f, known := fields[name]
		if !known {
			warnings = append(warnings, fmt.Sprintf("unknown environment variable %s ignored (not a config key)", name))
			continue
		}
		if err := setScalar(f, val); err != nil {
			return warnings, fmt.Errorf("environment variable %s (key %s): %w", name, keys[name], err)
		}
	}
	return warnings, nil
}

func setScalar(f reflect.Value, s string) error {
	if d, ok := f.Addr().Interface().(*Duration); ok {
		return d.set(s)
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer: %q", s)
		}
		f.SetInt(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("not a boolean (true/false): %q", s)
		}
		f.SetBool(b)
	}
	return nil
}
