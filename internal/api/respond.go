package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// StatusResponse is the Status JSON of SPEC section 4. The field order is the
// member order on the wire: Id, Status, Message.
type StatusResponse struct {
	ID      string `json:"Id"`
	Status  string `json:"Status"`
	Message string `json:"Message"`
}

// StatusError is the Status of every error answer.
const StatusError = "Error"

// The fixed messages of SPEC sections 4 and 7.
const (
	MsgIDRequired = "Parameter 'id' is required."
	MsgIDFormat   = "Parameter 'id' must be 32 hexadecimal characters."
	MsgNotFound   = "Job with a given ID was not found."
	// MsgUnableToStart starts Execute's 503 answer; the reason follows.
	MsgUnableToStart = "Unable to start a job: "
)

const contentTypeJSON = "application/json; charset=utf-8"

// writeJSON answers v as JSON with code. HTML escaping is off so messages
// keep their '<', '>' and '&' as written.
func writeJSON(w http.ResponseWriter, code int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only unencodable values (a programming error) get here.
		code = http.StatusInternalServerError
		buf.Reset()
		_ = json.NewEncoder(&buf).Encode(StatusResponse{Status: StatusError, Message: "Unable to encode the answer."})
	}
	h := w.Header()
	h.Set("Content-Type", contentTypeJSON)
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// writeStatus answers the Status JSON.
func writeStatus(w http.ResponseWriter, code int, id, status, message string) {
	writeJSON(w, code, StatusResponse{ID: id, Status: status, Message: message})
}

// writeError answers an error in the Status JSON shape, so every client of
// the original can read every answer.
func writeError(w http.ResponseWriter, code int, id, message string) {
	writeStatus(w, code, id, StatusError, message)
}

func writeTooLarge(w http.ResponseWriter, limit int64) {
	// The unread body would otherwise keep the connection busy.
	w.Header().Set("Connection", "close")
	writeError(w, http.StatusRequestEntityTooLarge, "",
		"Request body is too large: the limit is "+strconv.FormatInt(limit, 10)+" bytes.")
}

// cut returns s shortened to at most n characters (runes), never splitting
// one.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
