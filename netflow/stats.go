package netflow

// Stats counts what a Decoder did. Counters only grow; Exporters,
// Templates and HeldBytes are current values.
type Stats struct {
	// Drops counts data sets (whole packets for DropLimit) dropped, by reason.
	Drops [numDrops]uint64
	// Limits counts limit hits, by limit.
	Limits [numLimits]uint64
	// TemplateEvents counts template set records, by event.
	TemplateEvents [numTemplateEvents]uint64
	// OptionsRecords counts options data records read (sampling and others).
	OptionsRecords uint64
	// Held counts data sets held waiting for their template; HeldDecoded
	// those decoded when it arrived.
	Held, HeldDecoded uint64
	// SequenceLost is the sum of the gaps reported to Handler.Lost;
	// SequenceResets counts sequence numbers that went backwards.
	SequenceLost, SequenceResets uint64
	// ExportersExpired counts exporters forgotten after ExporterTimeout.
	ExportersExpired uint64

	Exporters int // exporters tracked
	Templates int // templates stored, all exporters
	HeldBytes int // bytes of data held waiting for templates
}

// Drop reasons.
const (
	DropLimit        = iota // exporter or domain limit reached: the packet is dropped
	DropNoTemplate          // no template and holding disabled
	DropHoldOverflow        // no template and the hold budget is full
	DropHoldExpired         // template did not arrive within HoldTime
	numDrops
)

// Limits.
const (
	LimitExporters      = iota // MaxExporters
	LimitDomains               // MaxDomains
	LimitTemplates             // MaxTemplates
	LimitTemplatesTotal        // MaxTemplatesTotal
	LimitFields                // MaxFields
	LimitRecordSize            // MaxRecordSize
	LimitSamplers              // MaxSamplers
	numLimits
)

// Template events.
const (
	TemplateAdded     = iota // new template id
	TemplateRefreshed        // same id, same definition (periodic resend)
	TemplateReplaced         // same id, new definition
	TemplateWithdrawn        // IPFIX withdrawal
	TemplateRejected         // malformed or over a limit
	numTemplateEvents
)

// DropNames, LimitNames and TemplateEventNames label the arrays of Stats.
var (
	DropNames          = [numDrops]string{"limit", "no_template", "hold_overflow", "hold_expired"}
	LimitNames         = [numLimits]string{"exporters", "domains", "templates", "templates_total", "fields", "record_size", "samplers"}
	TemplateEventNames = [numTemplateEvents]string{"added", "refreshed", "replaced", "withdrawn", "rejected"}
)
