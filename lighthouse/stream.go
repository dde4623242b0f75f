package lighthouse

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// This file decodes a DescribeInstances page as its body is read, instead
// of reading the whole body first. A page of 100 instances is about half
// a megabyte of JSON; a sweep asks for up to Options.PageConcurrency
// pages at once, and a daemon sweeps every cycle, so the bodies were most
// of what a sweep held (issue 21: the daemon following 10,000 instances in
// 40 MB). The decoder holds one instance's JSON at a time.

// readErrs remembers the first error of reading r other than io.EOF: a
// failure to read the body (a network error, retried as before), told
// apart from a body that is not a valid envelope.
type readErrs struct {
	r   io.Reader
	err error
}

func (re *readErrs) Read(p []byte) (int, error) {
	n, err := re.r.Read(p)
	if err != nil && err != io.EOF && re.err == nil {
		re.err = err
	}
	return n, err
}

// decodePage reads the envelope of a DescribeInstances response from r
// into p (Error, RequestId) and page (TotalCount, InstanceSet, RequestId)
// as json.Unmarshal would into both: keys matched without regard to
// case, unknown keys skipped, null leaving a field zero. jerr is what
// json.Unmarshal would have failed with (a different message), nil for a
// valid envelope; page is reset first.
func decodePage(r io.Reader, page *DescribeInstancesResponse) (p probe, jerr error) {
	*page = DescribeInstancesResponse{}
	dec := json.NewDecoder(r)
	open, err := object(dec)
	if err != nil {
		return p, err
	}
	for open && dec.More() {
		key, err := objectKey(dec)
		if err != nil {
			return p, err
		}
		if !strings.EqualFold(key, "Response") {
			if err := skip(dec); err != nil {
				return p, err
			}
			continue
		}
		open, err := object(dec)
		if err != nil {
			return p, err
		}
		for open && dec.More() {
			k, err := objectKey(dec)
			if err != nil {
				return p, err
			}
			switch {
			case strings.EqualFold(k, "Error"):
				p.Response.Error = nil
				err = dec.Decode(&p.Response.Error)
			case strings.EqualFold(k, "RequestId"):
				err = dec.Decode(&p.Response.RequestId)
				page.RequestId = p.Response.RequestId
			case strings.EqualFold(k, "TotalCount"):
				err = dec.Decode(&page.TotalCount)
			case strings.EqualFold(k, "InstanceSet"):
				err = decodeInstances(dec, page)
			default:
				err = skip(dec)
			}
			if err != nil {
				return p, err
			}
		}
		if open {
			if err := closing(dec, '}'); err != nil {
				return p, err
			}
		}
	}
	if open {
		if err := closing(dec, '}'); err != nil {
			return p, err
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return p, cmpErr(err, "data after the response's JSON object")
	}
	return p, nil
}

// decodeInstances decodes an InstanceSet array one instance at a time,
// each into its place in the page's array (taken from pageArrays).
func decodeInstances(dec *json.Decoder, page *DescribeInstancesResponse) error {
	tok, err := dec.Token()
	switch {
	case err != nil:
		return err
	case tok == nil:
		page.InstanceSet = nil
		return nil
	case tok != json.Delim('['):
		return fmt.Errorf("InstanceSet: want an array, got %v", tok)
	}
	page.InstanceSet = pageArrays.Get().(*[MaxPageSize]Instance)[:0]
	for dec.More() {
		page.InstanceSet = append(page.InstanceSet, Instance{})
		if err := dec.Decode(&page.InstanceSet[len(page.InstanceSet)-1]); err != nil {
			return fmt.Errorf("InstanceSet[%d]: %w", len(page.InstanceSet)-1, err)
		}
	}
	return closing(dec, ']')
}

// pageArrays holds the arrays of DescribeInstances pages that a sweep has
// handed over (Instances), for the next pages to be decoded into: a sweep
// of 10,000 instances decodes 100 pages, and an array of MaxPageSize
// instances is 52 KB (issue 21: a daemon's cycle allocates what its
// collector must then reclaim). A page holds at most MaxPageSize
// instances, so one array, not a slice grown by doubling.
var pageArrays = sync.Pool{New: func() any { return new([MaxPageSize]Instance) }}

// reusePage gives the array of page's instances back to pageArrays, once
// nothing reads them any more: Instances yields each instance by value,
// and its strings and slices are not part of the array. The array is
// cleared, so that it keeps none of them alive; an array a service grew
// past MaxPageSize is left to the collector.
func reusePage(page *DescribeInstancesResponse) {
	if cap(page.InstanceSet) != MaxPageSize {
		return
	}
	arr := (*[MaxPageSize]Instance)(page.InstanceSet[:MaxPageSize])
	clear(arr[:])
	page.InstanceSet = nil
	pageArrays.Put(arr)
}

// object reads the start of an object: open false for null.
func object(dec *json.Decoder) (open bool, err error) {
	tok, err := dec.Token()
	switch {
	case err != nil:
		return false, err
	case tok == nil:
		return false, nil
	case tok != json.Delim('{'):
		return false, fmt.Errorf("want an object, got %v", tok)
	}
	return true, nil
}

// objectKey reads the key of an object's next member.
func objectKey(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	key, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("want an object key, got %v", tok)
	}
	return key, nil
}

// closing reads the delimiter that ends an object or array.
func closing(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != d {
		return fmt.Errorf("want %v, got %v", d, tok)
	}
	return nil
}

// skip reads over one value.
func skip(dec *json.Decoder) error {
	var v json.RawMessage
	return dec.Decode(&v)
}

// cmpErr is err, or an error saying what when err is nil.
func cmpErr(err error, what string) error {
	if err != nil {
		return err
	}
	return errors.New(what)
}
