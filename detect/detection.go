package detect

import (
	"strings"
	"time"
)

// Detection is what a rule found about one subject, kept open (active)
// while the rule keeps finding it within the cool-down. It is stored in the
// detections table, listed by the API and sent to the sinks.
type Detection struct {
	ID       string  `json:"id"`
	Rule     string  `json:"rule"`
	Severity string  `json:"severity"`
	Subject  Subject `json:"subject"`
	// Summary is one human sentence with the numbers.
	Summary   string    `json:"summary"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Count is the number of evaluations that found it.
	Count uint64 `json:"count"`
	// Active is true until the cool-down after LastSeen has passed.
	Active bool `json:"active"`
	// Values are the numbers of the last finding, Thresholds what they
	// were compared with (same keys where a value has a threshold).
	Values     map[string]float64 `json:"values"`
	Thresholds map[string]float64 `json:"thresholds"`
	// Keys are the new items of the novelty rules (new-peer, new-service),
	// accumulated over the detection's findings.
	Keys []Key `json:"keys,omitempty"`
	// Details are rule-specific extras (top processes, peers, ...).
	Details  map[string]any `json:"details,omitempty"`
	Evidence Evidence       `json:"evidence"`
}

// Subject is what a detection is about; only the fields that identify it
// for its rule are set.
type Subject struct {
	Host      string `json:"host,omitempty"`
	Process   string `json:"process,omitempty"`
	Address   string `json:"address,omitempty"`
	Exporter  string `json:"exporter,omitempty"`
	Interface string `json:"interface,omitempty"`
}

// String is the canonical form, used to de-duplicate: "host=web-1
// process=nginx".
func (s Subject) String() string {
	var parts []string
	for _, kv := range [...][2]string{{"host", s.Host}, {"process", s.Process}, {"address", s.Address},
		{"exporter", s.Exporter}, {"interface", s.Interface}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	return strings.Join(parts, " ")
}

// Key is one new item of a novelty rule: a peer (kind address, as or
// country) or a service (kind tcp or udp, value the port).
type Key struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
	// FirstSeen is when the item was first seen for the subject.
	FirstSeen time.Time `json:"first_seen"`
}

// Evidence reproduces a finding: Filter and the time range show the flows
// in the console (or raw flow search); SQL with Params is the query the rule
// ran, restricted to the subject, over Table.
type Evidence struct {
	Filter string            `json:"filter"`
	Start  time.Time         `json:"start"`
	End    time.Time         `json:"end"`
	Table  string            `json:"table"`
	SQL    string            `json:"sql"`
	Params map[string]string `json:"params,omitempty"`
}

// finding is one result of one rule evaluation, before de-duplication.
type finding struct {
	subject    Subject
	summary    string
	values     map[string]float64
	thresholds map[string]float64
	keys       []Key
	details    map[string]any
	evidence   Evidence
	// score orders findings when there are more than max-findings.
	score float64
}
