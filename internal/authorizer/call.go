package authorizer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse"
)

const (
	// idleConnsPerHost keeps enough warm connections to the backend for a
	// reconnect storm; net/http's default of 2 would make most calls open
	// a new connection then.
	idleConnsPerHost = 64
	// maxMessage bounds the refusal message handed on to the client.
	maxMessage = 256
)

func newClient() *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = idleConnsPerHost
	return &http.Client{
		Transport: transport,
		// A redirect would turn the POST into a GET; the backend's URL
		// belongs in the config instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// call POSTs body to the backend and reads its answer. A refusal is an
// answer too (an entry that does not allow); the error is for a call that
// got no usable answer, coded upstream_timeout or upstream_error.
func (a *Authorizer) call(body []byte) (*entry, error) {
	// The call is shared by every socket that presented the same request,
	// so no one socket's context may cancel it; the timeout bounds it.
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("authorizer: build request: %w", err)
	}
	req.Header = a.header.Clone()
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host // net/http ignores a Host entry in Header
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, a.unanswered(ctx, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, int64(a.cfg.MaxAnswer)+1))
	if err != nil {
		return nil, a.unanswered(ctx, err)
	}
	if len(answer) > a.cfg.MaxAnswer {
		a.metrics.outcome(outcomeError)
		return nil, gatehouse.Errorf(gatehouse.CodeUpstreamError, "the authorizer's answer is larger than %d bytes", a.cfg.MaxAnswer)
	}
	e, err := parseAnswer(resp.StatusCode, answer)
	if err != nil {
		a.metrics.outcome(outcomeError)
		return nil, err
	}
	if e.allow {
		if e.lifetime > 0 {
			e.until = a.now().Add(e.lifetime)
		}
		a.metrics.outcome(outcomeAllowed)
	} else {
		a.metrics.outcome(outcomeRefused)
	}
	return e, nil
}

// unanswered classifies a call that got no (whole) answer: running out of
// time is upstream_timeout, anything else upstream_error. Neither the
// client-facing message nor the wrapped cause, which the log shows, names
// the URL.
func (a *Authorizer) unanswered(ctx context.Context, err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		// Its text quotes the URL, whose query may hold a key.
		err = urlErr.Err
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) ||
		(errors.As(err, &netErr) && netErr.Timeout()) {
		a.metrics.outcome(outcomeTimeout)
		coded := gatehouse.Errorf(gatehouse.CodeUpstreamTimeout, "the authorizer did not answer within %s", a.cfg.Timeout)
		return fmt.Errorf("%w (%w)", coded, err)
	}
	a.metrics.outcome(outcomeError)
	coded := gatehouse.Errorf(gatehouse.CodeUpstreamError, "the authorizer is unreachable")
	return fmt.Errorf("%w (%w)", coded, err)
}

// answerBody is the JSON the backend answers with.
type answerBody struct {
	Allow     *bool           `json:"allow"`
	Claims    json.RawMessage `json:"claims"`
	ExpiresIn *float64        `json:"expires_in"`
	Code      string          `json:"code"`
	Message   string          `json:"message"`
}

// refusalCodes are the C2 codes a backend may refuse with; any other is
// handed on as forbidden, so that clients only ever see codes of the
// contract.
var refusalCodes = map[gatehouse.Code]bool{
	gatehouse.CodeUnauthorized: true,
	gatehouse.CodeForbidden:    true,
	gatehouse.CodeTokenExpired: true,
	gatehouse.CodeRateLimited:  true,
}

// parseAnswer reads a response: 2xx with {"allow": ...}, or 401/403 as a
// refusal whatever the body says beyond its code and message. Anything
// else is an upstream_error.
func parseAnswer(status int, body []byte) (*entry, error) {
	var ans answerBody
	parsed := json.Unmarshal(body, &ans) == nil
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		code := gatehouse.CodeUnauthorized
		if status == http.StatusForbidden {
			code = gatehouse.CodeForbidden
		}
		if parsed && ans.Code != "" {
			code = gatehouse.Code(ans.Code)
		}
		return refusal(code, ans.Message), nil
	case status < 200 || status > 299:
		return nil, gatehouse.Errorf(gatehouse.CodeUpstreamError, "the authorizer answered %d", status)
	case !parsed || ans.Allow == nil:
		return nil, gatehouse.Errorf(gatehouse.CodeUpstreamError, `the authorizer's answer is not a JSON object with "allow": true or false`)
	case !*ans.Allow:
		code := gatehouse.CodeUnauthorized
		if ans.Code != "" {
			code = gatehouse.Code(ans.Code)
		}
		return refusal(code, ans.Message), nil
	}
	return allowance(ans)
}

// allowance checks the claims and lifetime of an allowing answer.
func allowance(ans answerBody) (*entry, error) {
	claims := bytes.TrimSpace(ans.Claims)
	if string(claims) == "null" {
		claims = nil
	}
	if len(claims) > 0 && claims[0] != '{' {
		return nil, gatehouse.Errorf(gatehouse.CodeUpstreamError, "the authorizer's claims are not a JSON object")
	}
	e := &entry{allow: true, claims: bytes.Clone(claims)}
	if ans.ExpiresIn != nil {
		secs := *ans.ExpiresIn
		if secs < 0 || secs > maxLifetime.Seconds() {
			return nil, gatehouse.Errorf(gatehouse.CodeUpstreamError,
				"the authorizer's expires_in is %v; want seconds from 0 to %d", secs, int(maxLifetime.Seconds()))
		}
		e.lifetime = time.Duration(secs * float64(time.Second))
	}
	return e, nil
}

// maxLifetime bounds an answer's expires_in, so that a mistaken unit (ms
// for s) is caught rather than kept for years.
const maxLifetime = 366 * 24 * time.Hour

// refusal is a refusing entry with a contract code and a bounded message.
func refusal(code gatehouse.Code, message string) *entry {
	if !refusalCodes[code] {
		code = gatehouse.CodeForbidden
	}
	if message == "" {
		message = "not authorized"
	}
	return &entry{code: code, message: truncate(message, maxMessage)}
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
