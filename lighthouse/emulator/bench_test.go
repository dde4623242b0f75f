package emulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/lightkeeper/lightkeeper/lighthouse"
	"github.com/lightkeeper/lightkeeper/lighthouse/emulator"
)

// benchPost signs body at the emulator's time and posts it over real HTTP.
func benchPost(b *testing.B, e *testEnv, client *http.Client, host, action string, body []byte) []byte {
	ts := e.clock.Now().Unix()
	req, _ := http.NewRequest(http.MethodPost, e.hs.URL+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TC-Action", action)
	req.Header.Set("X-TC-Version", lighthouse.Version)
	req.Header.Set("X-TC-Region", region)
	req.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("Authorization", lighthouse.Authorization(testID, testKey, lighthouse.SignInput{
		Service: lighthouse.Service, Host: host, ContentType: "application/json", Timestamp: ts, Body: body,
	}))
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bytes.Contains(out, []byte(`"Error"`)) {
		b.Fatalf("%s: %s", action, out)
	}
	return out
}

// BenchmarkDescribeInstances10k pages through 10,000 instances with
// Limit 100 over HTTP, signing each request; ops/s is requests per second.
func BenchmarkDescribeInstances10k(b *testing.B) {
	e := newEnv(b, func(c *emulator.Config) {
		c.Quotas = map[string]int64{"GENERAL_BUNDLE_INSTANCE": -1}
		c.LaunchDelay = -1
	})
	for range 10000 / 30 {
		e.create(basicCreate(map[string]any{"InstanceCount": 30, "Tags": []lighthouse.Tag{{Key: "lightkeeper-fleet", Value: "web"}}}))
	}
	e.create(basicCreate(map[string]any{"InstanceCount": 10, "Tags": []lighthouse.Tag{{Key: "lightkeeper-fleet", Value: "web"}}}))
	host := strings.TrimPrefix(e.hs.URL, "http://")
	client := e.hs.Client()
	bodies := make([][]byte, 100)
	for i := range bodies {
		bodies[i], _ = json.Marshal(map[string]any{
			"Filters": []lighthouse.Filter{{Name: "tag-key", Values: []string{"lightkeeper-fleet"}}},
			"Offset":  i * 100, "Limit": 100,
		})
	}
	var first lighthouse.DescribeInstancesResponse
	var env envelope
	json.Unmarshal(benchPost(b, e, client, host, "DescribeInstances", bodies[0]), &env)
	json.Unmarshal(env.Response, &first)
	if first.TotalCount != 10000 || len(first.InstanceSet) != 100 {
		b.Fatalf("setup: %d instances, page %d", first.TotalCount, len(first.InstanceSet))
	}
	b.ResetTimer()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			benchPost(b, e, client, host, "DescribeInstances", bodies[i%100])
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkDescribeByName10k asks for 100 instances of 10,000 by an
// instance-name filter of 100 values (a push's filtered observation), over
// HTTP; ops/s is requests per second.
func BenchmarkDescribeByName10k(b *testing.B) {
	e := newEnv(b, func(c *emulator.Config) {
		c.Quotas = map[string]int64{"GENERAL_BUNDLE_INSTANCE": -1}
		c.LaunchDelay = -1
	})
	for i := range 330 {
		e.create(basicCreate(map[string]any{"InstanceCount": 30, "InstanceName": fmt.Sprintf("bulk-%d", i)}))
	}
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("web-%d", i)
		e.create(basicCreate(map[string]any{"InstanceCount": 1, "InstanceName": names[i]}))
	}
	host := strings.TrimPrefix(e.hs.URL, "http://")
	client := e.hs.Client()
	body, _ := json.Marshal(map[string]any{"Filters": []lighthouse.Filter{{Name: "instance-name", Values: names}}, "Limit": 100})
	var resp lighthouse.DescribeInstancesResponse
	var env envelope
	json.Unmarshal(benchPost(b, e, client, host, "DescribeInstances", body), &env)
	json.Unmarshal(env.Response, &resp)
	if resp.TotalCount != 100 {
		b.Fatalf("setup: the filter matched %d instances, want 100", resp.TotalCount)
	}
	b.ResetTimer()
	b.ReportAllocs()
	for b.Loop() {
		benchPost(b, e, client, host, "DescribeInstances", body)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkCreateInstances creates one instance per request over HTTP,
// with rate limits off and a ClientToken per request.
func BenchmarkCreateInstances(b *testing.B) {
	e := newEnv(b, func(c *emulator.Config) {
		c.Quotas = map[string]int64{"GENERAL_BUNDLE_INSTANCE": -1}
	})
	host := strings.TrimPrefix(e.hs.URL, "http://")
	client := e.hs.Client()
	var n int64
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	b.ResetTimer()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			<-mu
			n++
			tok := fmt.Sprintf("bench-%d", n)
			mu <- struct{}{}
			body, _ := json.Marshal(basicCreate(map[string]any{"ClientToken": tok, "Tags": []lighthouse.Tag{{Key: "lightkeeper-slot", Value: tok}}}))
			benchPost(b, e, client, host, "CreateInstances", body)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
