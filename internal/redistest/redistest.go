package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	// startAttempts is how many ports a server is tried on before failing:
	// a free port can be taken by another process before redis binds it.
	startAttempts = 5
	// readyTimeout bounds the wait for a server to answer PING and for a
	// cluster to report cluster_state:ok.
	readyTimeout = 10 * time.Second
	// clusterBusOffset is the distance between a cluster node's port and
	// its cluster bus port, fixed by Redis.
	clusterBusOffset = 10000
)

// StartServer starts a single redis-server and returns its URL,
// redis://127.0.0.1:PORT/0. The server is killed when the test ends.
func StartServer(t testing.TB) string {
	t.Helper()
	bin := lookPath(t, "redis-server")
	srv := start(t, bin, t.TempDir(), false)
	return fmt.Sprintf("redis://%s/0", srv.addr)
}

// StartCluster starts nodes redis-server processes in cluster mode, joins
// them into a cluster of nodes masters without replicas with
// `redis-cli --cluster create`, waits until every node reports the cluster
// ok with all 16384 slots assigned, and returns its URL,
// redis-cluster://127.0.0.1:P1,127.0.0.1:P2,.... Redis Cluster needs at
// least 3 masters. The servers are killed when the test ends.
func StartCluster(t testing.TB, nodes int) string {
	t.Helper()
	if nodes < 3 {
		t.Fatalf("redistest: a Redis Cluster needs at least 3 masters, not %d", nodes)
	}
	bin := lookPath(t, "redis-server")
	cli := lookPath(t, "redis-cli")
	dir := t.TempDir()
	servers := make([]*server, nodes)
	addrs := make([]string, nodes)
	for i := range servers {
		servers[i] = start(t, bin, dir, true)
		addrs[i] = servers[i].addr
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redistest: redis-cli --cluster create %s: %v\n%s%s", strings.Join(addrs, " "), err, tail(out), logs(servers))
	}

	deadline := time.Now().Add(readyTimeout)
	for _, srv := range servers {
		for {
			info, err := command(srv.addr, "CLUSTER INFO")
			if err == nil && clusterReady(info, nodes) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redistest: cluster not ready after %v: node %s: %v\n%s%s", readyTimeout, srv.addr, err, info, logs(servers))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return "redis-cluster://" + strings.Join(addrs, ",")
}

// clusterReady reports whether CLUSTER INFO says the cluster is ok, with
// every slot assigned and every node known.
func clusterReady(info string, nodes int) bool {
	fields := map[string]string{}
	for line := range strings.Lines(info) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		fields[k] = v
	}
	return fields["cluster_state"] == "ok" &&
		fields["cluster_slots_assigned"] == "16384" &&
		fields["cluster_known_nodes"] == strconv.Itoa(nodes)
}

// server is one running redis-server.
type server struct {
	addr string
	log  string // path of its stdout and stderr
}

// lookPath finds bin on PATH, or skips or fails the test.
func lookPath(t testing.TB, bin string) string {
	t.Helper()
	path, err := exec.LookPath(bin)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("redistest: %s not found on PATH (`make redis` installs it)", bin)
	if os.Getenv("FSTORE_REQUIRE_REDIS") == "1" {
		t.Fatal(msg + "; FSTORE_REQUIRE_REDIS=1 makes this a failure")
	}
	t.Skip(msg)
	return ""
}

// start starts a redis-server in dir on a free port, retrying on another
// port when it cannot start, and registers its kill with t.Cleanup.
func start(t testing.TB, bin, dir string, cluster bool) *server {
	t.Helper()
	var errs []error
	for range startAttempts {
		port, err := freePort(cluster)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		srv, err := startOn(t, bin, dir, port, cluster)
		if err == nil {
			return srv
		}
		errs = append(errs, err)
	}
	t.Fatalf("redistest: cannot start redis-server after %d attempts:\n%v", startAttempts, errors.Join(errs...))
	return nil
}

// startOn starts a redis-server on port and waits until it answers PING.
func startOn(t testing.TB, bin, dir string, port int, cluster bool) (*server, error) {
	t.Helper()
	p := strconv.Itoa(port)
	srv := &server{addr: net.JoinHostPort("127.0.0.1", p), log: filepath.Join(dir, "redis-"+p+".log")}
	logFile, err := os.Create(srv.log)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	args := []string{
		"--port", p, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--loglevel", "notice",
	}
	if major, ok := serverMajor(bin); ok && major >= 7 {
		// Tests may use DEBUG (e.g. to stop active expiry); Redis 7 turned
		// it off by default, and Redis 6 knows no such option.
		args = append(args, "--enable-debug-command", "local")
	}
	if cluster {
		args = append(args,
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes-"+p+".conf"),
			"--cluster-node-timeout", "5000")
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	kill := func() {
		_ = cmd.Process.Kill() // by pid
		<-exited
	}

	deadline := time.Now().Add(readyTimeout)
	for {
		reply, err := command(srv.addr, "PING")
		if err == nil && reply == "PONG" {
			break
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("redis-server on port %d exited: %s\n%s", port, cmd.ProcessState, srv.logTail())
		default:
		}
		if time.Now().After(deadline) {
			kill()
			return nil, fmt.Errorf("redis-server on port %d does not answer PING after %v: %v\n%s", port, readyTimeout, err, srv.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(kill)
	return srv, nil
}

// serverMajor returns the major version of the redis-server at bin, from
// "Redis server v=7.0.15 sha=...".
func serverMajor(bin string) (int, bool) {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return 0, false
	}
	_, v, ok := strings.Cut(string(out), " v=")
	if !ok {
		return 0, false
	}
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	return n, err == nil
}

// freePort returns a loopback port that was free a moment ago; for a
// cluster node, its bus port (port+10000) was free too.
func freePort(cluster bool) (int, error) {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !cluster {
			l.Close()
			return port, nil
		}
		if port+clusterBusOffset > 65535 {
			l.Close()
			continue
		}
		bus, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+clusterBusOffset)))
		l.Close()
		if err != nil {
			continue
		}
		bus.Close()
		return port, nil
	}
	return 0, errors.New("no free port pair for a cluster node")
}

// command sends one inline command to addr and returns its reply: the
// text of a status or bulk reply, or an error for an error reply.
func command(addr, line string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return "", err
	}
	if _, err := conn.Write([]byte(line + "\r\n")); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	head, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	head = strings.TrimRight(head, "\r\n")
	if head == "" {
		return "", errors.New("empty reply")
	}
	switch head[0] {
	case '+':
		return head[1:], nil
	case '-':
		return "", errors.New(head[1:])
	case '$':
		n, err := strconv.Atoi(head[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("bad bulk reply %q", head)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", head)
}

// logTail returns the end of the server's log, for failure messages.
func (s *server) logTail() string {
	b, err := os.ReadFile(s.log)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return fmt.Sprintf("--- %s ---\n%s", s.log, tail(b))
}

func logs(servers []*server) string {
	var b strings.Builder
	for _, s := range servers {
		b.WriteString(s.logTail())
		b.WriteByte('\n')
	}
	return b.String()
}

// tail returns the last 2 KiB of b.
func tail(b []byte) string {
	const max = 2048
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}
