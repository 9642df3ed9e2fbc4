package api

import "net/http"

// WriteJSON answers v as JSON exactly as every endpoint of the API does; for
// handlers mounted beside it (Options.Console).
func WriteJSON(w http.ResponseWriter, code int, v any) { writeJSON(w, code, v) }

// WriteError answers an error in the Status JSON shape, {"Id": "", "Status":
// "Error", "Message": message}, so a client reads every refusal the same way.
func WriteError(w http.ResponseWriter, code int, message string) { writeError(w, code, "", message) }
