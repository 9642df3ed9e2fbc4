package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// requestError is a malformed request: answered with code and the Status
// JSON {Id: id, Status: Error, Message: msg}, never a 500.
type requestError struct {
	code    int
	id, msg string
}

func badRequest(id, msg string) *requestError {
	return &requestError{code: http.StatusBadRequest, id: id, msg: msg}
}

func (e *requestError) write(w http.ResponseWriter, limit int64) {
	if e.code == http.StatusRequestEntityTooLarge {
		writeTooLarge(w, limit)
		return
	}
	writeError(w, e.code, e.id, e.msg)
}

// maxIDEcho is how much of a bad id the answer echoes.
const maxIDEcho = 64

// jobID reads the job id as SPEC section 4 allows it: from the query string,
// else from the body. It returns the id as given (surrounding blanks
// removed) and the lower-cased id to look up.
func jobID(r *http.Request) (given, lookup string, rerr *requestError) {
	bodyID, rerr := bodyParams(r)
	if rerr != nil {
		return "", "", rerr
	}
	given = strings.TrimSpace(queryID(r.URL.RawQuery))
	if given == "" {
		given = strings.TrimSpace(bodyID)
	}
	if given == "" {
		return "", "", badRequest("", MsgIDRequired)
	}
	if !isHexID(given) {
		return "", "", badRequest(cut(given, maxIDEcho), MsgIDFormat)
	}
	return given, strings.ToLower(given), nil
}

// queryID returns the id of the query string as given. url.Query drops a
// pair it cannot decode, which would make a malformed id (Status?id=%zz)
// look missing; such a value is returned raw, for the format check to refuse.
func queryID(raw string) string {
	v, _ := url.ParseQuery(raw) // keeps every pair it could decode
	if id := valueFold(v, "id"); id != "" {
		return id
	}
	for pair := range strings.SplitSeq(raw, "&") {
		k, val, _ := strings.Cut(pair, "=")
		if key, err := url.QueryUnescape(k); err != nil || !strings.EqualFold(key, "id") {
			continue
		}
		if _, err := url.QueryUnescape(val); err != nil {
			return val
		}
	}
	return ""
}

func isHexID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// valueFold returns the first value of key in v, the key matched exactly
// first, then ignoring case (the original's framework bound "Id" and "ID"
// too); keys are tried in sorted order so the answer is deterministic.
func valueFold(v url.Values, key string) string {
	if vs := v[key]; len(vs) > 0 {
		return vs[0]
	}
	keys := make([]string, 0, len(v))
	for k := range v {
		if strings.EqualFold(k, key) && len(v[k]) > 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	slices.Sort(keys)
	return v[keys[0]][0]
}

// bodyParams reads the whole (already size-bounded) body and returns the id
// it carries, if any. An empty body is valid. JSON is recognised by its
// content type or, because PowerShell's Invoke-RestMethod labels any string
// body as a form, by a leading '{'. Bodies of other content types carry no
// parameters and are ignored.
func bodyParams(r *http.Request) (string, *requestError) {
	if r.Body == nil {
		return "", nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return "", &requestError{code: http.StatusRequestEntityTooLarge}
		}
		return "", badRequest("", "Unable to read the request body.")
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return "", nil
	}
	mediaType, mparams, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		mediaType = ""
	}
	switch {
	case mediaType == "application/json" || strings.HasSuffix(mediaType, "+json") ||
		((mediaType == "" || mediaType == "application/x-www-form-urlencoded" || mediaType == "text/plain") && trimmed[0] == '{'):
		return jsonID(trimmed)
	case mediaType == "application/x-www-form-urlencoded" || mediaType == "":
		v, err := url.ParseQuery(string(trimmed))
		if err != nil {
			return "", badRequest("", "Request body is not a valid form: "+err.Error()+".")
		}
		return valueFold(v, "id"), nil
	case mediaType == "multipart/form-data":
		return multipartID(body, mparams["boundary"], int64(len(body)))
	default:
		return "", nil
	}
}

// jsonID reads {"id": "..."} (any case of "id"; other members ignored).
func jsonID(body []byte) (string, *requestError) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		if _, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			return "", badRequest("", "Request body must be a JSON object.")
		}
		return "", badRequest("", "Request body is not valid JSON: "+err.Error()+".")
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", badRequest("", "Request body is not valid JSON: data after the object.")
	}
	raw, ok := obj["id"]
	if !ok {
		keys := make([]string, 0, len(obj))
		for k := range obj {
			if strings.EqualFold(k, "id") {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			return "", nil
		}
		slices.Sort(keys)
		raw = obj[keys[0]]
	}
	if bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		// Not a string: the value's JSON text is what was given, and the
		// format check judges it like any other id.
		return string(raw), nil
	}
	return s, nil
}

func multipartID(body []byte, boundary string, limit int64) (string, *requestError) {
	if boundary == "" {
		return "", badRequest("", "Request body is not a valid multipart form: no boundary.")
	}
	form, err := multipart.NewReader(bytes.NewReader(body), boundary).ReadForm(limit)
	if err != nil {
		return "", badRequest("", "Request body is not a valid multipart form: "+err.Error()+".")
	}
	defer func() { _ = form.RemoveAll() }()
	return valueFold(form.Value, "id"), nil
}
