package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// redisCommandStats reads INFO commandstats from the redis-server at addr:
// the calls of each command so far, by name. The INFO call itself is left
// out, so that reading before and after a run counts only the server's.
func redisCommandStats(ctx context.Context, addr string) (map[string]int64, error) {
	var d net.Dialer
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("redis %s: %w", addr, err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	if _, err := conn.Write([]byte("*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n")); err != nil {
		return nil, fmt.Errorf("redis %s: %w", addr, err)
	}
	text, err := readBulk(bufio.NewReader(conn))
	if err != nil {
		return nil, fmt.Errorf("redis %s: INFO commandstats: %w", addr, err)
	}
	return parseCommandStats(text), nil
}

// readBulk reads one RESP bulk string ("$<len>\r\n<bytes>\r\n").
func readBulk(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "$") {
		return "", fmt.Errorf("unexpected reply %.80q", line)
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil || n < 0 || n > 1<<20 {
		return "", fmt.Errorf("bad bulk length %q", line)
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// parseCommandStats reads the lines "cmdstat_NAME:calls=N,usec=..." of
// INFO commandstats, leaving out INFO itself.
func parseCommandStats(text string) map[string]int64 {
	out := map[string]int64{}
	for line := range strings.SplitSeq(text, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_")
		if !ok {
			continue
		}
		name, fields, ok := strings.Cut(rest, ":")
		if !ok || name == "info" {
			continue
		}
		for field := range strings.SplitSeq(fields, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				if calls, err := strconv.ParseInt(v, 10, 64); err == nil {
					out[name] = calls
				}
			}
		}
	}
	return out
}

// redisPerMessage is the commands run between before and after divided by
// messages, in all and by command ("evalsha=1.00, ..."), most first.
func redisPerMessage(before, after map[string]int64, messages int64) (float64, string) {
	if messages <= 0 {
		return 0, ""
	}
	type count struct {
		name  string
		calls int64
	}
	var counts []count
	var total int64
	for name, calls := range after {
		if d := calls - before[name]; d > 0 {
			counts = append(counts, count{name, d})
			total += d
		}
	}
	slices.SortFunc(counts, func(a, b count) int {
		if a.calls != b.calls {
			return int(b.calls - a.calls)
		}
		return strings.Compare(a.name, b.name)
	})
	parts := make([]string, len(counts))
	for i, c := range counts {
		parts[i] = fmt.Sprintf("%s=%.2f", strings.ReplaceAll(c.name, "|", " "), float64(c.calls)/float64(messages))
	}
	return float64(total) / float64(messages), strings.Join(parts, ", ")
}
