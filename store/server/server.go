// Package server is the store transport for a ClickHouse server or cluster,
// over the native protocol with clickhouse-go. Inserts always list their
// columns (ClickHouse 18.16 answers a bare "INSERT INTO t" with an empty
// header); Native blocks built by the store's encoder are decoded column by
// column into clickhouse-go's columnar batch API. Query parameters are bound
// by the server when it supports them (protocol revision 54459, ClickHouse
// 22.x) and substituted as quoted typed literals for older servers.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/hostflow/hostflow/store/native"
	"github.com/hostflow/hostflow/store/transport"
)

// TLSOptions enable TLS (same fields as the store configuration).
type TLSOptions struct {
	Enable             bool
	CAFile             string
	CertFile           string
	KeyFile            string
	ServerName         string
	InsecureSkipVerify bool
}

// Options for the connection.
type Options struct {
	Addresses   []string
	User        string
	Password    string
	DialTimeout time.Duration
	TLS         TLSOptions
}

// Transport talks to a ClickHouse server.
type Transport struct {
	conn         driver.Conn
	serverParams bool // server binds {name:Type} parameters itself
	version      string
}

var _ transport.Transport = (*Transport)(nil)

// revisionWithParameters is the first protocol revision carrying query
// parameters (DBMS_MIN_PROTOCOL_VERSION_WITH_PARAMETERS).
const revisionWithParameters = 54459

// New connects and checks the server answers.
func New(o Options) (*Transport, error) {
	opts := &clickhouse.Options{
		Addr:        o.Addresses,
		Auth:        clickhouse.Auth{Database: "default", Username: o.User, Password: o.Password},
		DialTimeout: o.DialTimeout,
		Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
		// One writer, a few readers.
		MaxOpenConns: 6,
		MaxIdleConns: 6,
	}
	if o.TLS.Enable {
		cfg, err := tlsConfig(o.TLS)
		if err != nil {
			return nil, err
		}
		opts.TLS = cfg
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: %w", strings.Join(o.Addresses, ","), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.DialTimeout+5*time.Second)
	defer cancel()
	v, err := conn.ServerVersion()
	if err == nil {
		err = conn.Ping(ctx)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse %s: %w", strings.Join(o.Addresses, ","), err)
	}
	return &Transport{conn: conn, serverParams: v.Revision >= revisionWithParameters, version: v.Version.String()}, nil
}

func tlsConfig(o TLSOptions) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: o.ServerName, InsecureSkipVerify: o.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca-file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca-file %s: no certificate", o.CAFile)
		}
	}
	if o.CertFile != "" || o.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Version is the server version.
func (t *Transport) Version() string { return t.version }

// Exec runs a statement.
func (t *Transport) Exec(ctx context.Context, sql string, params map[string]string) error {
	ctx, sql, err := t.bind(ctx, sql, params)
	if err != nil {
		return err
	}
	return t.conn.Exec(ctx, sql)
}

var paramRe = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*):([^{}]+)\}`)

// bind returns the SQL and context to run a query with parameters.
func (t *Transport) bind(ctx context.Context, sql string, params map[string]string) (context.Context, string, error) {
	if len(params) == 0 {
		return ctx, sql, nil
	}
	if t.serverParams {
		p := clickhouse.Parameters{}
		for k, v := range params {
			p[k] = transport.EscapeParam(v)
		}
		return clickhouse.Context(ctx, clickhouse.WithParameters(p)), sql, nil
	}
	// Old server: substitute a quoted literal cast to the declared type.
	var missing []string
	out := paramRe.ReplaceAllStringFunc(sql, func(m string) string {
		sub := paramRe.FindStringSubmatch(m)
		v, ok := params[sub[1]]
		if !ok {
			missing = append(missing, sub[1])
			return m
		}
		return "CAST(" + quote(v) + " AS " + strings.TrimSpace(sub[2]) + ")"
	})
	if len(missing) > 0 {
		return nil, "", fmt.Errorf("query parameters not given: %s", strings.Join(missing, ", "))
	}
	return ctx, out, nil
}

var quoter = strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`, "\n", `\n`, "\r", `\r`, "\t", `\t`)

func quote(s string) string { return "'" + quoter.Replace(s) + "'" }

// Query runs a SELECT and reads the whole result.
func (t *Transport) Query(ctx context.Context, sql string, params map[string]string) (*transport.Result, error) {
	ctx, sql, err := t.bind(ctx, sql, params)
	if err != nil {
		return nil, err
	}
	rows, err := t.conn.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return readRows(rows)
}

// Insert sends Native blocks with their column list, as one batch (one
// block on the wire, so one part).
func (t *Transport) Insert(ctx context.Context, table string, blocks ...*native.Block) error {
	if len(blocks) == 0 {
		return nil
	}
	first := blocks[0]
	for _, b := range blocks[1:] {
		if err := first.SameColumns(b); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
	}
	if t.serverParams {
		// See store/chdb: the rollup views aggregate each block already.
		// (The setting is unknown to servers older than 20.x.)
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"optimize_on_insert": 0}))
	}
	batch, err := t.conn.PrepareBatch(ctx, "INSERT INTO "+table+" ("+strings.Join(first.Names(), ", ")+")")
	if err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	targets := batch.Columns()
	if len(targets) != len(first.Columns) {
		batch.Abort()
		return fmt.Errorf("insert into %s: server expects %d columns, block has %d", table, len(targets), len(first.Columns))
	}
	for _, b := range blocks {
		for i := range b.Columns {
			v, err := columnValues(&b.Columns[i], b.Rows, string(targets[i].Type()))
			if err == nil {
				err = batch.Column(i).Append(v)
			}
			if err != nil {
				batch.Abort()
				return fmt.Errorf("insert into %s column %s: %w", table, b.Columns[i].Name, err)
			}
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	return nil
}

// Close closes the connections.
func (t *Transport) Close() error { return t.conn.Close() }

// ErrUnsupported is returned for block column types the transport cannot
// convert.
var ErrUnsupported = errors.New("unsupported column type")
