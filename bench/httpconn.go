package bench

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// httpConn is one load worker's keep-alive HTTP/1.1 connection. It writes
// POST requests built into a reused buffer and reads each response (status
// line, headers, a Content-Length body) into buffers it keeps, so that the
// generator allocates nothing per request: its garbage collections would
// otherwise take one of the machine's cores for milliseconds at a time and
// land in the server's measured tail. fasthttp's client allocates a
// closure set per request when bodies are streamed, and drops large body
// buffers from its pool when they are not.
type httpConn struct {
	addr, host string
	tls        bool
	timeout    time.Duration
	// head is the request up to the Content-Length value.
	head []byte

	c      net.Conn
	r      *bufio.Reader
	req    []byte
	body   []byte
	status int
}

func newHTTPConn(u *url.URL, timeout time.Duration) *httpConn {
	head := []byte("POST " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nContent-Type: application/json\r\nContent-Length: ")
	return &httpConn{addr: hostPort(u), host: u.Hostname(), tls: u.Scheme == "https", timeout: timeout, head: head}
}

var errNoLength = errors.New("bench: response without Content-Length (chunked bodies are not supported by the load generator)")

// do sends body and reads the response into h.status and h.body. After an
// error the connection is closed; the next call dials again.
func (h *httpConn) do(body []byte) error {
	if err := h.roundTrip(body); err != nil {
		h.close()
		return err
	}
	return nil
}

func (h *httpConn) roundTrip(body []byte) error {
	if h.c == nil {
		d := net.Dialer{Timeout: h.timeout}
		var c net.Conn
		var err error
		if h.tls {
			c, err = tls.DialWithDialer(&d, "tcp", h.addr, &tls.Config{ServerName: h.host})
		} else {
			c, err = d.Dial("tcp", h.addr)
		}
		if err != nil {
			return err
		}
		h.c = c
		if h.r == nil {
			h.r = bufio.NewReaderSize(c, 64<<10)
		} else {
			h.r.Reset(c)
		}
	}
	if err := h.c.SetDeadline(time.Now().Add(h.timeout)); err != nil {
		return err
	}
	h.req = strconv.AppendInt(append(h.req[:0], h.head...), int64(len(body)), 10)
	h.req = append(append(h.req, "\r\n\r\n"...), body...)
	if _, err := h.c.Write(h.req); err != nil {
		return err
	}
	line, err := h.r.ReadSlice('\n')
	if err != nil {
		return err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return fmt.Errorf("bench: malformed status line %q", truncate(line, 60))
	}
	h.status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return fmt.Errorf("bench: malformed status line %q", truncate(line, 60))
	}
	length, closing := -1, false
	for {
		line, err = h.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 { // the blank line ending the headers
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return fmt.Errorf("bench: malformed header %q", truncate(line, 60))
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return fmt.Errorf("bench: malformed Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			closing = true
		}
	}
	if length < 0 {
		return errNoLength
	}
	if cap(h.body) < length {
		h.body = make([]byte, length, length+length/4)
	}
	h.body = h.body[:length]
	if _, err := io.ReadFull(h.r, h.body); err != nil {
		return err
	}
	if closing {
		h.close()
	}
	return nil
}

func (h *httpConn) close() {
	if h.c != nil {
		h.c.Close()
		h.c = nil
	}
}
