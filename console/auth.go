package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hostflow/hostflow/internal/config"
)

// Scopes, in increasing power.
const (
	ScopeNone  = "none"
	ScopeRead  = "read"
	ScopeAdmin = "admin"
)

type scope int

const (
	scopeNone scope = iota
	scopeRead
	scopeAdmin
)

func parseScope(s string) (scope, error) {
	switch s {
	case ScopeNone, "":
		return scopeNone, nil
	case ScopeRead:
		return scopeRead, nil
	case ScopeAdmin:
		return scopeAdmin, nil
	}
	return scopeNone, fmt.Errorf("unknown scope %q (none, read, admin)", s)
}

func (s scope) String() string { return [...]string{ScopeNone, ScopeRead, ScopeAdmin}[s] }

// Identity is who made a request.
type Identity struct {
	// Kind is "token", "tailnet" or "anonymous".
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	Scope string `json:"scope"`
}

// IdentityFunc identifies a request by other means than a token (e.g. a
// tailnet WhoIs); ok=false passes to the next method.
type IdentityFunc func(r *http.Request) (Identity, bool)

type authenticator struct {
	anonymous scope
	tokens    map[[32]byte]TokenConfig
	extra     IdentityFunc
}

func newAuthenticator(cfg AuthConfig, extra IdentityFunc) (*authenticator, error) {
	anon, err := parseScope(cfg.Anonymous)
	if err != nil {
		return nil, err
	}
	entries := append([]TokenConfig(nil), cfg.Tokens...)
	if cfg.TokensFile != "" {
		var more []TokenConfig
		if err := config.Load(cfg.TokensFile, &more); err != nil {
			return nil, err
		}
		for i, t := range more {
			if err := t.validate(); err != nil {
				return nil, fmt.Errorf("%s: entry %d: %w", cfg.TokensFile, i, err)
			}
		}
		entries = append(entries, more...)
	}
	a := &authenticator{anonymous: anon, tokens: map[[32]byte]TokenConfig{}, extra: extra}
	for _, t := range entries {
		var h [32]byte
		if _, err := hex.Decode(h[:], []byte(strings.ToLower(t.SHA256))); err != nil {
			return nil, fmt.Errorf("token %s: %w", t.Name, err)
		}
		a.tokens[h] = t
	}
	return a, nil
}

// errUnauthorized and errForbidden are answered as 401 and 403.
type authError struct {
	code int
	msg  string
}

func (e *authError) Error() string { return e.msg }

// identify returns the caller's identity. A token that is present but
// unknown is an error even when anonymous access is allowed, so a typo does
// not silently downgrade a client.
func (a *authenticator) identify(r *http.Request) (Identity, error) {
	if tok, ok := bearer(r); ok {
		h := sha256.Sum256([]byte(tok))
		// The map lookup is on a hash of a high-entropy secret, so timing
		// reveals nothing useful; compare again in constant time anyway.
		if t, found := a.tokens[h]; found {
			want, _ := hex.DecodeString(t.SHA256)
			if subtle.ConstantTimeCompare(want, h[:]) == 1 {
				return Identity{Kind: "token", Name: t.Name, Scope: t.Scope}, nil
			}
		}
		return Identity{}, &authError{http.StatusUnauthorized, "invalid API token"}
	}
	if a.extra != nil {
		if id, ok := a.extra(r); ok {
			if id.Scope == ScopeNone {
				return Identity{}, &authError{http.StatusForbidden, fmt.Sprintf("%s %s is not allowed", id.Kind, id.Name)}
			}
			return id, nil
		}
	}
	return Identity{Kind: "anonymous", Scope: a.anonymous.String()}, nil
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok && tok != "" {
		return strings.TrimSpace(tok), true
	}
	return "", false
}

type ctxKey struct{}

// require wraps h so that only callers with at least scope need reach it.
func (a *authenticator) require(need scope, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := a.identify(r)
		if err != nil {
			ae := err.(*authError)
			writeError(w, ae.code, ae.msg)
			return
		}
		have, _ := parseScope(id.Scope)
		if have < need {
			if id.Kind == "anonymous" {
				writeError(w, http.StatusUnauthorized, "authentication required: send \"Authorization: Bearer <token>\" (create one with \"hostflow token create\")")
				return
			}
			writeError(w, http.StatusForbidden, fmt.Sprintf("%s %q has scope %s; this endpoint needs %s", id.Kind, id.Name, id.Scope, need))
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)))
	})
}

// NewToken returns a fresh token and its configuration entry.
func NewToken(name, scopeName string) (string, TokenConfig, error) {
	if s, err := parseScope(scopeName); err != nil || s == scopeNone {
		return "", TokenConfig{}, fmt.Errorf("scope must be read or admin")
	}
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", TokenConfig{}, err
	}
	tok := "hf_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	return tok, TokenConfig{Name: name, SHA256: sha256hex(tok), Scope: scopeName}, nil
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// WriteTokenEntry prints the YAML entry for a token configuration.
func WriteTokenEntry(t TokenConfig) string {
	out, _ := yaml.Marshal([]TokenConfig{t})
	return string(out)
}
