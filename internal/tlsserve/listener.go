package tlsserve

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// ErrPlainHTTP is the handshake error of a connection that spoke plain HTTP
// to the HTTPS port; it was answered 400 and closed.
var ErrPlainHTTP = errors.New("plain HTTP request on the HTTPS port answered with 400")

// recordTypeHandshake starts every TLS client's first message.
const recordTypeHandshake = 0x16

// plainTimeout bounds reading a plain HTTP request's head and writing the answer.
const plainTimeout = 5 * time.Second

// NewListener returns a listener whose connections speak TLS with cfg. A
// client that sends plain HTTP instead gets a 400 whose body, in the Status
// JSON shape every client of the API reads, says to use https:// (with the
// address it asked for), and the connection is closed.
func NewListener(inner net.Listener, cfg *tls.Config) net.Listener {
	return &listener{Listener: inner, cfg: cfg}
}

type listener struct {
	net.Listener
	cfg *tls.Config
}

// Accept wraps the connection without reading from it: the first read
// happens in the handshake, on the server's goroutine for this connection.
func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return tls.Server(&sniffConn{Conn: c, br: bufio.NewReader(c)}, l.cfg), nil
}

// sniffConn looks at the first byte a client sends: a TLS handshake goes on,
// anything else is answered as plain HTTP.
type sniffConn struct {
	net.Conn
	br      *bufio.Reader
	checked bool
}

func (c *sniffConn) Read(p []byte) (int, error) {
	if !c.checked {
		first, err := c.br.Peek(1)
		if err != nil {
			return 0, err
		}
		c.checked = true
		if first[0] != recordTypeHandshake {
			c.refusePlain()
			return 0, ErrPlainHTTP
		}
	}
	return c.br.Read(p)
}

func (c *sniffConn) refusePlain() {
	_ = c.Conn.SetDeadline(time.Now().Add(plainTimeout))
	where := "https://HOST:PORT/"
	if req, err := http.ReadRequest(bufio.NewReader(io.LimitReader(c.br, 16<<10))); err == nil && validHost(req.Host) {
		where = "https://" + req.Host + req.URL.Path
		_ = req.Body.Close()
	}
	body, _ := json.Marshal(statusJSON{
		Status:  "Error",
		Message: "This port accepts HTTPS only: the request came as plain HTTP. Use " + where + " instead.",
	})
	body = append(body, '\n')
	_, _ = fmt.Fprintf(c.Conn, "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\n"+
		"Content-Length: %d\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n%s", len(body), body)
}

// statusJSON is the API's Status JSON shape.
type statusJSON struct {
	ID      string `json:"Id"`
	Status  string `json:"Status"`
	Message string `json:"Message"`
}

// validHost keeps only a plain host[:port] in the answer (it echoes what the
// client sent).
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	return strings.Trim(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") == ""
}
