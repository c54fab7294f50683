package console

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/hostflow/hostflow/internal/config"
)

// Config is the console section: the HTTP server for the web console and
// API v1.
type Config struct {
	// Listen is host:port of the console and API. Empty disables them.
	Listen string `yaml:"listen"`
	// Auth controls who may call the API.
	Auth AuthConfig `yaml:"auth"`
	// MaxRange is the longest time range one request may cover.
	MaxRange config.Duration `yaml:"max-range"`
	// QueryTimeout bounds one query.
	QueryTimeout config.Duration `yaml:"query-timeout"`
}

// AuthConfig lists API tokens and what anonymous callers may do.
type AuthConfig struct {
	// Anonymous is the scope of requests without a token: none, read or
	// admin. The collector default is none; standalone on a loopback
	// address defaults to read.
	Anonymous string `yaml:"anonymous"`
	// Tokens are API tokens, stored as SHA-256 hashes ("hostflow token
	// create" prints a token and its entry).
	Tokens []TokenConfig `yaml:"tokens"`
	// TokensFile is a YAML file with more tokens (a list of entries like
	// Tokens), for secrets kept out of the main file.
	TokensFile string `yaml:"tokens-file"`
}

// TokenConfig is one API token.
type TokenConfig struct {
	Name string `yaml:"name"`
	// SHA256 is the hex SHA-256 of the token.
	SHA256 string `yaml:"sha256"`
	// Scope is read or admin.
	Scope string `yaml:"scope"`
}

// DefaultConfig serves on localhost:8080 and requires a token.
func DefaultConfig() Config {
	return Config{
		Listen:       "localhost:8080",
		Auth:         AuthConfig{Anonymous: ScopeNone},
		MaxRange:     config.Duration(400 * 24 * time.Hour),
		QueryTimeout: config.Duration(time.Minute),
	}
}

// Validate checks the values.
func (c *Config) Validate() error {
	var errs []error
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			errs = append(errs, config.Errorf("listen", "%v", err))
		}
	}
	if _, err := parseScope(c.Auth.Anonymous); err != nil {
		errs = append(errs, config.Errorf("auth.anonymous", "%v", err))
	}
	for i, t := range c.Auth.Tokens {
		if err := t.validate(); err != nil {
			errs = append(errs, config.Errorf(fmt.Sprintf("auth.tokens.%d", i), "%v", err))
		}
	}
	if c.Auth.TokensFile != "" {
		if _, err := os.Stat(c.Auth.TokensFile); err != nil {
			errs = append(errs, config.Errorf("auth.tokens-file", "%v", err))
		}
	}
	if c.MaxRange <= 0 {
		errs = append(errs, config.Errorf("max-range", "must be positive"))
	}
	if c.QueryTimeout <= 0 {
		errs = append(errs, config.Errorf("query-timeout", "must be positive"))
	}
	return errors.Join(errs...)
}

func (t TokenConfig) validate() error {
	if t.Name == "" {
		return errors.New("name is required")
	}
	if len(t.SHA256) != 64 || strings.Trim(strings.ToLower(t.SHA256), "0123456789abcdef") != "" {
		return errors.New("sha256 must be 64 hex digits (the token's SHA-256, not the token)")
	}
	if s, err := parseScope(t.Scope); err != nil || s == scopeNone {
		return fmt.Errorf("scope must be read or admin, not %q", t.Scope)
	}
	return nil
}

// IsLoopback reports whether Listen binds only loopback addresses.
func (c *Config) IsLoopback() bool {
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
