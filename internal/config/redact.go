package config

import (
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"
)

// Redacted replaces secret values.
const Redacted = "<redacted>"

// secretKeys are configuration keys whose values are secrets wherever
// they appear (and every value below them: lists of communities, maps of
// headers).
var secretKeys = map[string]bool{
	"password": true, "secret": true, "auth-key": true, "communities": true, "headers": true,
}

// secretSuffixes catch the variants ("priv-passphrase", "api-token").
var secretSuffixes = []string{"password", "passphrase", "secret", "-token", "-key"}

// isSecret tells whether key's value is a secret. Key files (paths) are
// not: "key-file", "auth-key-file".
func isSecret(key string) bool {
	k := strings.ToLower(key)
	if secretKeys[k] {
		return true
	}
	for _, s := range secretSuffixes {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	return false
}

// Redact returns v marshalled to a YAML node with every secret replaced by
// "<redacted>": values of keys named like secrets (password, passphrase,
// secret, auth-key, communities, headers), and the password and query of
// URLs anywhere. Empty values stay empty, so a printout still tells whether
// a secret is set.
func Redact(v any) (*yaml.Node, error) {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return nil, err
	}
	redactNode(&n, false)
	return &n, nil
}

func redactNode(n *yaml.Node, secret bool) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			redactNode(c, secret)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			redactNode(n.Content[i+1], secret || isSecret(n.Content[i].Value))
		}
	case yaml.ScalarNode:
		switch {
		case n.Value == "" || n.Tag == "!!null":
		case secret:
			n.Value, n.Tag, n.Style = Redacted, "!!str", 0
		case strings.Contains(n.Value, "://"):
			n.Value = redactURL(n.Value)
		}
	}
}

// redactURL hides a URL's password and query (where webhook and database
// URLs carry credentials).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), Redacted)
	}
	if u.RawQuery != "" {
		u.RawQuery = Redacted
	}
	return u.String()
}
