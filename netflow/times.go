package netflow

// ntpEpochOffset is the number of seconds from 1900 (NTP era 0, used by
// IPFIX dateTimeMicroseconds and dateTimeNanoseconds) to 1970.
const ntpEpochOffset = 2208988800

// Times returns the flow's start and end as Unix milliseconds, from
// whichever elements the record carries: sysUptime-relative (v5, v9,
// IPFIX 21/22 with systemInitTimeMilliseconds), absolute seconds,
// milliseconds, microseconds or nanoseconds, or microseconds before the
// export time. A side the record does not tell is 0. It scans the fields,
// so call it only when needed.
func (f *Flow) Times() (start, end int64) {
	var initMs int64 // IPFIX: exporter boot time, for 21/22
	var upStart, upEnd uint64
	var haveUp bool
	for i := range f.Fields {
		v := &f.Fields[i]
		if v.Enterprise != 0 || v.Scope {
			continue
		}
		switch v.ID {
		case IEFlowStartSysUpTime:
			upStart, haveUp = v.Uint(), true
		case IEFlowEndSysUpTime:
			upEnd, haveUp = v.Uint(), true
		case IESystemInitTimeMilliseconds:
			initMs = int64(v.Uint())
		case IEFlowStartSeconds:
			start = int64(v.Uint()) * 1000
		case IEFlowEndSeconds:
			end = int64(v.Uint()) * 1000
		case IEFlowStartMilliseconds:
			start = int64(v.Uint())
		case IEFlowEndMilliseconds:
			end = int64(v.Uint())
		case IEFlowStartMicroseconds, IEFlowStartNanoseconds:
			start = ntpMillis(v.Uint())
		case IEFlowEndMicroseconds, IEFlowEndNanoseconds:
			end = ntpMillis(v.Uint())
		case IEFlowStartDeltaMicroseconds:
			start = int64(f.ExportTime)*1000 - int64(v.Uint())/1000
		case IEFlowEndDeltaMicroseconds:
			end = int64(f.ExportTime)*1000 - int64(v.Uint())/1000
		}
	}
	if haveUp {
		switch {
		case f.Version != 10:
			// The header's uptime was taken at ExportTime; uptimes wrap
			// at 2^32 ms (49.7 days), hence the 32-bit differences.
			export := int64(f.ExportTime) * 1000
			if upStart != 0 {
				start = export + int64(int32(uint32(upStart)-f.SysUptime))
			}
			if upEnd != 0 {
				end = export + int64(int32(uint32(upEnd)-f.SysUptime))
			}
		case initMs != 0:
			if upStart != 0 {
				start = initMs + int64(upStart)
			}
			if upEnd != 0 {
				end = initMs + int64(upEnd)
			}
		}
	}
	return start, end
}

// ntpMillis converts an NTP timestamp (seconds since 1900 in the high 32
// bits, binary fraction in the low 32) to Unix milliseconds.
func ntpMillis(v uint64) int64 {
	sec := int64(v>>32) - ntpEpochOffset
	frac := int64((v & 0xFFFFFFFF) * 1000 >> 32)
	return sec*1000 + frac
}
