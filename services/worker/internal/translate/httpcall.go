package translate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// call is one HTTP request to a provider.
type call struct {
	provider    string
	client      *http.Client
	method, url string
	header      http.Header
	// body is sent as is with contentType.
	body        []byte
	contentType string
	// message extracts the provider's explanation from an error answer;
	// the raw excerpt is used when it returns "".
	message func(raw []byte) string
}

// jsonBody encodes v for a call.
func jsonBody(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return b, nil
}

// do sends the request and decodes a 2xx JSON answer into out. Every
// failure to get an answer, and every non-2xx answer, is an *Error.
func (c call) do(ctx context.Context, out any) error {
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, bytes.NewReader(c.body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if c.body != nil {
		req.Header.Set("Content-Type", c.contentType)
	}
	req.Header.Set("Accept", "application/json")
	client := c.client
	if client == nil {
		client = &http.Client{Timeout: DefaultTimeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error names method, URL and cause; a key in the URL is not
		// ours to print, so the URL is redacted.
		return &Error{Provider: c.provider, Err: redactURLError(err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return &Error{Provider: c.provider, StatusCode: resp.StatusCode, Err: fmt.Errorf("read response: %w", err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := ""
		if c.message != nil {
			msg = c.message(raw)
		}
		if msg == "" {
			msg = excerpt(raw, bodyExcerpt)
		}
		return statusError(c.provider, resp, excerpt([]byte(msg), bodyExcerpt), time.Now())
	}
	if err := json.Unmarshal(raw, out); err != nil {
		// A 2xx answer we cannot read: the provider or a proxy in front of
		// it is misbehaving, which may pass.
		return &Error{Provider: c.provider, StatusCode: resp.StatusCode,
			Err: fmt.Errorf("decode response %q: %w", excerpt(raw, bodyExcerpt), err)}
	}
	return nil
}

// redactURLError hides a password in the URL of a *url.Error.
func redactURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return &url.Error{Op: ue.Op, URL: redacted(ue.URL), Err: ue.Err}
	}
	return err
}

// checkBaseURL validates a provider's base URL and trims its final slash.
func checkBaseURL(setting, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s %q: want http(s)://host[:port][/path]", setting, raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// jsonMessage returns the first non-empty string among the named fields of
// a JSON object, looking one level down into objects ("error": {"message"}).
func jsonMessage(raw []byte, fields ...string) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return ""
	}
	for _, f := range fields {
		v, ok := obj[f]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) == nil && s != "" {
			return s
		}
		if inner := jsonMessage(v, fields...); inner != "" {
			return inner
		}
	}
	return ""
}
