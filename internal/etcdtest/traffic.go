package etcdtest

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Traffic is a reading of the etcd server's client-side counters: the
// relay's bytes on the wire, and the gRPC counters etcd keeps in the
// process's default Prometheus registry (process-wide: with two servers in
// one process they add up). They survive Restart: compare two readings
// with Sub.
type Traffic struct {
	// At is when the counters were read.
	At time.Time
	// ReceivedBytes and SentBytes are the gRPC message bytes from and to
	// clients (etcd_network_client_grpc_received_bytes_total and
	// _sent_bytes_total): protobuf payloads, without HTTP/2, TLS or TCP
	// framing.
	ReceivedBytes, SentBytes float64
	// ReceivedMessages and SentMessages count gRPC messages, unary and
	// on streams (grpc_server_msg_received_total, _sent_total): a lease
	// keep-alive is one message each way, a Range one each way.
	ReceivedMessages, SentMessages float64
	// WireReceivedBytes and WireSentBytes are the TCP payload bytes from
	// and to clients at the client port (the relay's count): TLS records,
	// HTTP/2 frames, gRPC messages and keep-alive pings, without TCP/IP
	// headers. Connections counts the connections clients opened.
	WireReceivedBytes, WireSentBytes, Connections float64
	// Unary counts unary calls started (Range, Put, Txn, LeaseGrant, ...;
	// etcd_server_client_requests_total{type="unary"}), Streams the
	// streams opened (Watch, LeaseKeepAlive; type="stream").
	Unary, Streams float64
}

// Traffic reads the counters now.
func (s *Server) Traffic() (Traffic, error) {
	fams, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		return Traffic{}, fmt.Errorf("gather etcd metrics: %w", err)
	}
	tr := Traffic{At: time.Now(), WireReceivedBytes: float64(s.proxy.rx.Load()), WireSentBytes: float64(s.proxy.tx.Load()),
		Connections: float64(s.proxy.accepted.Load())}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			v := m.GetCounter().GetValue()
			switch f.GetName() {
			case "etcd_network_client_grpc_received_bytes_total":
				tr.ReceivedBytes += v
			case "etcd_network_client_grpc_sent_bytes_total":
				tr.SentBytes += v
			case "grpc_server_msg_received_total":
				tr.ReceivedMessages += v
			case "grpc_server_msg_sent_total":
				tr.SentMessages += v
			case "etcd_server_client_requests_total":
				switch label(m, "type") {
				case "unary":
					tr.Unary += v
				case "stream":
					tr.Streams += v
				}
			}
		}
	}
	return tr, nil
}

// Sub returns the traffic between an earlier reading and t.
func (t Traffic) Sub(earlier Traffic) Traffic {
	return Traffic{
		At:                t.At,
		ReceivedBytes:     t.ReceivedBytes - earlier.ReceivedBytes,
		SentBytes:         t.SentBytes - earlier.SentBytes,
		ReceivedMessages:  t.ReceivedMessages - earlier.ReceivedMessages,
		SentMessages:      t.SentMessages - earlier.SentMessages,
		Unary:             t.Unary - earlier.Unary,
		Streams:           t.Streams - earlier.Streams,
		WireReceivedBytes: t.WireReceivedBytes - earlier.WireReceivedBytes,
		WireSentBytes:     t.WireSentBytes - earlier.WireSentBytes,
		Connections:       t.Connections - earlier.Connections,
	}
}

// Rate is the difference Sub returned, per second over d.
func (t Traffic) Rate(d time.Duration) Traffic {
	s := d.Seconds()
	return Traffic{At: t.At, ReceivedBytes: t.ReceivedBytes / s, SentBytes: t.SentBytes / s,
		ReceivedMessages: t.ReceivedMessages / s, SentMessages: t.SentMessages / s, Unary: t.Unary / s, Streams: t.Streams / s,
		WireReceivedBytes: t.WireReceivedBytes / s, WireSentBytes: t.WireSentBytes / s, Connections: t.Connections / s}
}

// String prints the counters on one line.
func (t Traffic) String() string {
	return fmt.Sprintf("wire: received %.1f B, sent %.1f B, %.0f connections; gRPC: received %.1f B in %.1f messages, sent %.1f B in %.1f messages, %.1f unary calls, %.1f streams opened",
		t.WireReceivedBytes, t.WireSentBytes, t.Connections, t.ReceivedBytes, t.ReceivedMessages, t.SentBytes, t.SentMessages, t.Unary, t.Streams)
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
