package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server's log writes and the
// test's reads at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freeAddress returns a loopback address with a port that was free a moment
// ago. Run takes the address as a flag, so the test cannot pass port 0.
func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitUntil polls cond every 20ms until it holds or 15s pass.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metricsBody returns the /metrics body, or "" while the server is not up.
func metricsBody(addr string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

func TestServeReloadsOnSIGHUP(t *testing.T) {
	configFile := filepath.Join(t.TempDir(), "secslo.yaml")
	if err := os.WriteFile(configFile, []byte("sources: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddress(t)

	// Keep SIGHUP from ending the test process should serve stop early,
	// for example when another process takes the free port first.
	guard := make(chan os.Signal, 2)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)

	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- Run(ctx, []string{"serve", "--config.file=" + configFile, "--web.listen-address=" + addr, "--storage.path=" + t.TempDir()}, io.Discard, &stderr)
	}()
	defer func() {
		cancel()
		if code := <-exit; code != exitOK {
			t.Errorf("serve exited with %d after cancel, want %d; log:\n%s", code, exitOK, stderr.String())
		}
	}()
	waitUntil(t, "the server to answer", func() bool {
		return strings.Contains(metricsBody(addr), "secslo_config_last_reload_successful 1")
	})

	if err := os.WriteFile(configFile, []byte("sources: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the bad config to be rejected", func() bool {
		return strings.Contains(metricsBody(addr), "secslo_config_last_reload_successful 0")
	})
	if log := stderr.String(); !strings.Contains(log, "rejected config") || !strings.Contains(log, configFile) {
		t.Errorf("log does not name the rejected config file:\n%s", log)
	}

	if err := os.WriteFile(configFile, []byte("sources: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the fixed config to load", func() bool {
		return strings.Contains(metricsBody(addr), "secslo_config_last_reload_successful 1")
	})
}

func TestServeExitStatus(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("sources: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unknownType := filepath.Join(dir, "unknown.yaml")
	if err := os.WriteFile(unknownType, []byte("sources:\n  - {name: a, type: nosuch}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	tests := []struct {
		name string
		args []string
		code int
		log  string
	}{
		{"missing config file", []string{"--config.file=" + filepath.Join(dir, "absent.yaml")}, exitFailure, "failed to read config file"},
		{"unknown source type", []string{"--config.file=" + unknownType}, exitFailure, `unknown source type \"nosuch\"`},
		{"address in use", []string{"--config.file=" + good, "--web.listen-address=" + busy.Addr().String()}, exitFailure, "failed to listen on " + busy.Addr().String()},
		{"invalid log level", []string{"--config.file=" + good, "--log.level=loud"}, exitUsage, "unrecognized log level"},
		{"unparsable Alertmanager URL hides its password", []string{"--config.file=" + good, "--alertmanager.url=http://a:s3cret@%zz"}, exitFailure, `invalid --alertmanager.url: invalid URL escape "%zz"`},
		{"evaluation interval too long", []string{"--config.file=" + good, "--engine.evaluation-interval=5m"}, exitFailure, "set --engine.evaluation-interval between 1s and 2m"},
		{"no query slots", []string{"--config.file=" + good, "--query.max-concurrency=0"}, exitFailure, "set both to at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			args := append([]string{"serve", "--web.listen-address=127.0.0.1:0", "--storage.path=" + t.TempDir()}, tt.args...)
			code := Run(context.Background(), args, io.Discard, &stderr)

			if code != tt.code {
				t.Errorf("exit status = %d, want %d", code, tt.code)
			}
			if !strings.Contains(stderr.String(), tt.log) {
				t.Errorf("stderr does not contain %q:\n%s", tt.log, stderr.String())
			}
			if strings.Contains(stderr.String(), "s3cret") {
				t.Errorf("stderr shows a password:\n%s", stderr.String())
			}
		})
	}
}
