package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/coreos/go-oidc/v3/oidc"
)

// discoverJWKSURL finds the JWKS of issuer by OpenID Connect discovery
// (OpenID Connect Discovery 1.0, section 4): it fetches
// <issuer>/.well-known/openid-configuration with github.com/coreos/go-oidc,
// which refuses a document whose "issuer" is not exactly issuer, and returns
// its "jwks_uri".
func discoverJWKSURL(ctx context.Context, client *http.Client, issuer string) (string, error) {
	if err := checkKeyServerURL(issuer); err != nil {
		return "", fmt.Errorf("no JWKS URL or file given, and the issuer cannot be used for OIDC discovery: issuer %q: %w", truncate(issuer), err)
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, client), issuer)
	if err != nil {
		var mismatch *oidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			return "", fmt.Errorf("OIDC discovery: the discovery document of %q names issuer %q; they must be equal: %w",
				issuer, truncate(mismatch.Discovered), err)
		}
		return "", fmt.Errorf("OIDC discovery for issuer %q: %w", issuer, err)
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil {
		return "", fmt.Errorf("OIDC discovery for issuer %q: %w", issuer, err)
	}
	if meta.JWKSURI == "" {
		return "", fmt.Errorf("OIDC discovery for issuer %q: the discovery document has no jwks_uri", issuer)
	}
	if err := checkKeyServerURL(meta.JWKSURI); err != nil {
		return "", fmt.Errorf("OIDC discovery for issuer %q: jwks_uri %q: %w", issuer, truncate(meta.JWKSURI), err)
	}
	return meta.JWKSURI, nil
}

// checkKeyServerURL accepts the URLs keys may be fetched from: https, or
// http to a loopback host (a test or a sidecar), since keys fetched in clear
// over a network could be replaced by anyone on the path.
func checkKeyServerURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("want https://host[/path]")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return errors.New("http is allowed for a loopback host only; want https")
	}
	return errors.New("want https://host[/path]")
}
