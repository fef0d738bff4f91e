package metrics

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ParseExposition reads Prometheus text exposition (what /metrics serves)
// into a map from Series names to values: counters and gauges, and a
// histogram's _count and _sum. Tests compare two scrapes to see exactly what
// moved.
func ParseExposition(r io.Reader) (map[string]float64, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	return flatten(slices.Collect(maps.Values(mfs))), nil
}

func flatten(mfs []*dto.MetricFamily) map[string]float64 {
	out := make(map[string]float64)
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := make(map[string]string)
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			name := mf.GetName()
			switch {
			case m.Counter != nil:
				out[Series(name, labels)] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[Series(name, labels)] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[Series(name+"_count", labels)] = float64(m.Histogram.GetSampleCount())
				out[Series(name+"_sum", labels)] = m.Histogram.GetSampleSum()
			}
		}
	}
	return out
}

// Series names one series as the exposition format writes it, labels sorted:
// nfdhcpd_requests_total{kind="rs",outcome="answered"}.
func Series(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	var b strings.Builder
	b.WriteString(name + "{")
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(k + `="` + labels[k] + `"`)
	}
	b.WriteString("}")
	return b.String()
}
