package console

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/hostflow/hostflow/query"
)

// gaps is a series whose missing values (NaN: no sample in the bucket)
// are null in JSON.
type gaps []float64

func (g gaps) MarshalJSON() ([]byte, error) {
	out := make([]byte, 0, 2+8*len(g))
	out = append(out, '[')
	for i, v := range g {
		if i > 0 {
			out = append(out, ',')
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			out = append(out, "null"...)
		} else {
			out = strconv.AppendFloat(out, v, 'g', -1, 64)
		}
	}
	return append(out, ']'), nil
}

type hostHealthSeriesOut struct {
	Host             string               `json:"host"`
	Start            time.Time            `json:"start"`
	End              time.Time            `json:"end"`
	Step             int64                `json:"step"` // seconds
	Times            []time.Time          `json:"times"`
	Samples          uint64               `json:"samples"`
	CPUBusyPct       gaps                 `json:"cpuBusyPct"`
	Load1            gaps                 `json:"load1"`
	CPUs             gaps                 `json:"cpus"`
	MemUsed          gaps                 `json:"memUsed"`
	MemUsedPct       gaps                 `json:"memUsedPct"`
	DiskMaxUsedPct   gaps                 `json:"diskMaxUsedPct"`
	TCPRetransPerSec gaps                 `json:"tcpRetransPerSec"`
	TCPRetransPct    gaps                 `json:"tcpRetransPct"`
	NetErrorsPerSec  gaps                 `json:"netErrorsPerSec"`
	NetDropsPerSec   gaps                 `json:"netDropsPerSec"`
	Interfaces       []interfaceSeriesOut `json:"interfaces"`
}

type interfaceSeriesOut struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Speed  uint64 `json:"speed"` // bits per second, 0 unknown
	InBps  gaps   `json:"inBps"`
	OutBps gaps   `json:"outBps"`
	InPct  gaps   `json:"inPct"`
	OutPct gaps   `json:"outPct"`
}

// getHostHealth is a host's counters over time (the host page's charts).
// A host without counters in the range is not an error: samples is 0 and
// every value null.
func (c *Console) getHostHealth(_ http.ResponseWriter, r *http.Request, p *params) (any, error) {
	start, end := p.timeRange(time.Duration(c.cfg.MaxRange))
	req := query.HostHealthRequest{Host: r.PathValue("host"), Start: start, End: end,
		Points:     p.integer("points", 0, 0, 10000),
		Interfaces: p.integer("interfaces", 10, 1, 50)}
	if p.err != nil {
		return nil, p.err
	}
	h, err := c.deps.Builder.HostHealthSeries(r.Context(), req)
	if err != nil {
		return nil, err
	}
	out := hostHealthSeriesOut{Host: h.Host, Start: h.Start, End: h.End, Step: int64(h.Step / time.Second), Times: h.Times,
		Samples: h.Samples, CPUBusyPct: h.CPUBusyPct, Load1: h.Load1, CPUs: h.CPUs, MemUsed: h.MemUsed,
		MemUsedPct: h.MemUsedPct, DiskMaxUsedPct: h.DiskMaxUsedPct, TCPRetransPerSec: h.TCPRetransPerSec,
		TCPRetransPct: h.TCPRetransPct, NetErrorsPerSec: h.NetErrorsPerSec, NetDropsPerSec: h.NetDropsPerSec,
		Interfaces: []interfaceSeriesOut{}}
	for _, i := range h.Interfaces {
		out.Interfaces = append(out.Interfaces, interfaceSeriesOut{Name: i.Name, Kind: i.Kind, Speed: i.Speed,
			InBps: i.InBps, OutBps: i.OutBps, InPct: i.InPct, OutPct: i.OutPct})
	}
	return out, nil
}
