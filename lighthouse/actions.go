package lighthouse

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"sync"
)

// Names of the actions the client calls (X-TC-Action).
const (
	ActionCreateInstances               = "CreateInstances"
	ActionDescribeInstances             = "DescribeInstances"
	ActionDescribeBundles               = "DescribeBundles"
	ActionDescribeBlueprints            = "DescribeBlueprints"
	ActionDescribeZones                 = "DescribeZones"
	ActionDescribeRegions               = "DescribeRegions"
	ActionDescribeGeneralResourceQuotas = "DescribeGeneralResourceQuotas"
	ActionInquirePriceCreateInstances   = "InquirePriceCreateInstances"
	ActionIsolateInstances              = "IsolateInstances"
	ActionTerminateInstances            = "TerminateInstances"
)

// MaxPageSize is the largest Limit of a Describe call and the most IDs one
// call accepts.
const MaxPageSize = 100

var readOnly = callOpts{}

// CreateInstances buys instances in region.
//
// ClientToken: the API documents it as a string the client chooses, of at
// most 64 ASCII characters, that makes the request idempotent (without it
// "the idempotency of the request cannot be guaranteed"; CreateInstances
// page intl:1103/45859 and the SDK's models.go). It documents no retention
// window, nor what a reused token returns once its instances are gone or
// with different parameters. lightkeeper therefore assumes only this: a
// request repeated with the same token and the same body shortly after the
// first (within the retries of one call) does not buy a second time. Give
// every logical create a ClientToken and reuse it, with the same request,
// on every retry: then the transport repeats the request after a lost
// response or a transient error. Without a ClientToken (and without DryRun)
// the transport repeats the request only when the service cannot have
// acted on it (not sent, or refused for the rate limit); any other failure
// comes back with Class Permanent and Ambiguous set, because repeating it
// could buy the servers twice.
//
// Returned IDs do not mean success: poll DescribeInstances until the
// instances leave PENDING.
func (c *Client) CreateInstances(ctx context.Context, region string, req *CreateInstancesRequest) (*CreateInstancesResponse, error) {
	if req == nil {
		return nil, fmt.Errorf("lighthouse: %s: the request is nil; BundleId, BlueprintId and InstanceChargePrepaid are required", ActionCreateInstances)
	}
	o := callOpts{mutating: !req.DryRun, unsafeRetry: !req.DryRun && req.ClientToken == ""}
	return send[CreateInstancesResponse](ctx, c, ActionCreateInstances, region, req, o)
}

// DescribeInstancesPage makes one DescribeInstances call as given: one page
// of at most req.Limit instances (the API's default 20 when 0).
func (c *Client) DescribeInstancesPage(ctx context.Context, region string, req *DescribeInstancesRequest) (*DescribeInstancesResponse, error) {
	return send[DescribeInstancesResponse](ctx, c, ActionDescribeInstances, region, req, readOnly)
}

// DescribeInstances returns every instance of region matching req: all
// pages of MaxPageSize, and, when req has more than MaxPageSize
// InstanceIds, one sweep per chunk of MaxPageSize IDs. req's Offset and
// Limit are ignored. It holds the whole result; for large accounts prefer
// Instances, which holds one page at a time.
func (c *Client) DescribeInstances(ctx context.Context, region string, req *DescribeInstancesRequest) ([]Instance, error) {
	var all []Instance
	for inst, err := range c.Instances(ctx, region, req) {
		if err != nil {
			return nil, err
		}
		all = append(all, inst)
	}
	return all, nil
}

// maxSweeps bounds the sweeps of one Instances listing (see there).
const maxSweeps = 4

// maxPresized bounds the room an Instances listing makes at once for the
// IDs it has yielded, whatever TotalCount a page reports: 16,384 IDs, about
// 2 MB; a larger account's set grows as it is listed.
const maxPresized = 1 << 14

// CodeListChanging is the client code of the error Instances yields when
// the list kept changing during maxSweeps sweeps in a row. It is
// RetryLater: observe again after a while.
const CodeListChanging = "ClientError.ListChanging"

// Instances iterates over every instance of region matching req, in the
// order the service lists them, fetching pages of MaxPageSize (and each of
// req.InstanceIds once, in chunks of MaxPageSize), as DescribeInstances
// does. Once the first page gives TotalCount, the next pages are asked for
// ahead, Options.PageConcurrency at a time within the action's rate limit,
// and yielded in order (see sweepPages); the iterator holds at most that
// many pages. On failure
// it yields the error once (with a zero Instance) and stops. A lookup by
// InstanceIds leaves out the IDs that no longer exist, whether the service
// omits them or answers ResourceNotFound.InstanceIdNotFound
// (CodeInstanceIdNotFound): a gone instance is an answer, not a failure.
//
// Offset paging over a list that changes during the sweep shifts the
// pages: a new instance shows one twice, and an instance removed, or moved
// to the front (isolated instances are listed first), hides another. The
// iterator yields each InstanceId once, and checks each sweep: every page
// must report the same TotalCount, and the sweep must have returned that
// many distinct instances (or the same instances as the sweep before, with
// the same TotalCount). Otherwise it sweeps again (yielding only
// instances not yet yielded), up to maxSweeps times, then yields an error
// with Code CodeListChanging rather than a listing that may miss an
// instance that existed throughout.
func (c *Client) Instances(ctx context.Context, region string, req *DescribeInstancesRequest) iter.Seq2[Instance, error] {
	return func(yield func(Instance, error) bool) {
		base := DescribeInstancesRequest{}
		if req != nil {
			base = *req
		}
		base.Offset, base.Limit = 0, MaxPageSize
		if len(base.InstanceIds) > 0 {
			// The service refuses an ID given twice; ask for each once.
			ids := make([]string, 0, len(base.InstanceIds))
			asked := make(map[string]struct{}, len(base.InstanceIds))
			for _, id := range base.InstanceIds {
				if _, dup := asked[id]; !dup {
					asked[id] = struct{}{}
					ids = append(ids, id)
				}
			}
			seen := make(map[string]struct{}, len(ids))
			for len(ids) > 0 {
				// A chunk of at most MaxPageSize IDs fits one page:
				// nothing can shift out of sight, so one call suffices.
				n := min(len(ids), MaxPageSize)
				insts, err := c.describeIDs(ctx, region, base, ids[:n:n])
				if err != nil {
					yield(Instance{}, err)
					return
				}
				for _, inst := range insts {
					if _, dup := seen[inst.InstanceId]; dup {
						continue
					}
					seen[inst.InstanceId] = struct{}{}
					if !yield(inst, nil) {
						return
					}
				}
				ids = ids[n:]
			}
			return
		}
		var seen map[string]struct{} // made at the first page's TotalCount
		var prev map[string]struct{} // the IDs of the previous sweep
		prevTotal := int64(-1)
		for sweep := 1; ; sweep++ {
			total, stable := int64(-1), true
			// The IDs this sweep lists: in the first, those it yields,
			// which seen holds (one set of 10,000 IDs is over 1 MB); after
			// it, a set of their own.
			var inSweep map[string]struct{}
			if sweep > 1 {
				inSweep = make(map[string]struct{}, len(prev))
			}
			stopped, err := c.sweepPages(ctx, region, base, func(resp *DescribeInstancesResponse) bool {
				if total >= 0 && resp.TotalCount != total {
					stable = false
				}
				total = resp.TotalCount
				if seen == nil {
					seen = make(map[string]struct{}, min(max(total, 0), maxPresized))
				}
				for _, inst := range resp.InstanceSet {
					if inSweep != nil {
						inSweep[inst.InstanceId] = struct{}{}
					}
					if _, dup := seen[inst.InstanceId]; dup {
						continue
					}
					seen[inst.InstanceId] = struct{}{}
					if !yield(inst, nil) {
						return false
					}
				}
				return true
			})
			if err != nil {
				yield(Instance{}, err)
				return
			}
			if stopped {
				return
			}
			ids := inSweep
			if ids == nil {
				ids = seen
			}
			switch {
			case !stable:
			case int64(len(ids)) == total:
			case total == prevTotal && sameKeys(ids, prev):
				// A TotalCount that never matches but never changes
				// (such as instances counted that the key may not
				// see) is steady, not changing.
			default:
				stable = false
			}
			if stable {
				break
			}
			if inSweep == nil {
				ids = maps.Clone(seen) // seen grows in the next sweep
			}
			prev, prevTotal = ids, total
			if sweep == maxSweeps {
				yield(Instance{}, &Error{
					Action: ActionDescribeInstances, Region: region, Code: CodeListChanging,
					Message: fmt.Sprintf("the instance list changed during each of %d sweeps (last: TotalCount %d, %d distinct instances listed), so an instance may have been missed", maxSweeps, total, len(inSweep)),
					class:   RetryLater, classSet: true,
				})
				return
			}
		}
	}
}

// DefaultPageConcurrency is how many DescribeInstances pages one sweep of
// Instances asks for at once when Options.PageConcurrency is 0: enough to
// keep to the documented 100 requests/s while a page takes up to about
// 70 ms to arrive (8 × 10 ms, less the time to decode one), the round trip
// from within Asia; further away the sweep slows to 8 pages per round trip
// unless PageConcurrency is raised. Each page asked ahead costs memory while
// it is in flight or waits to be consumed (a page of 100 instances is about
// 0.5 MB of JSON, then its decoded instances), which is what keeps the
// default low for a daemon that sweeps 10,000 instances every cycle.
const DefaultPageConcurrency = 8

// sweepPages fetches one sweep of the pages of base (MaxPageSize each) and
// hands them to handle in offset order, as a loop asking for one page at a
// time would: each page at the offset where the previous one ended, until a
// page is empty or reaches the TotalCount it reports. Once a full first page
// has given TotalCount, the pages after it are asked for ahead, up to
// c.pageConcurrency at once (each still waiting for the action's rate
// limit), and handed over in order; a short page or a changed TotalCount
// drops what was asked ahead and goes on one page at a time, so the pages
// handled are always those of the sequential loop. stopped reports that
// handle returned false. handle must not keep a page's InstanceSet: its
// array is decoded into again once handle returns (reusePage).
func (c *Client) sweepPages(ctx context.Context, region string, base DescribeInstancesRequest, handle func(*DescribeInstancesResponse) bool) (stopped bool, err error) {
	offset := int64(0)
	for {
		page := base
		page.Offset = offset
		resp, err := c.DescribeInstancesPage(ctx, region, &page)
		if err != nil {
			return false, err
		}
		n, total, more := handOver(resp, handle)
		if !more {
			return true, nil
		}
		offset += n
		if n == 0 || offset >= total {
			return false, nil
		}
		if c.pageConcurrency > 1 && n == MaxPageSize && total-offset > MaxPageSize {
			var done bool
			offset, done, stopped, err = c.fetchAhead(ctx, region, base, offset, total, handle)
			if err != nil || stopped || done {
				return stopped, err
			}
		}
	}
}

// handOver hands page to handle and then gives its array back for the
// next page (reusePage); it returns what the sweep reads of the page after
// that: how many instances it held, its TotalCount, and handle's answer.
func handOver(page *DescribeInstancesResponse, handle func(*DescribeInstancesResponse) bool) (n, total int64, more bool) {
	n, total = int64(len(page.InstanceSet)), page.TotalCount
	more = handle(page)
	reusePage(page)
	return n, total, more
}

// fetchAhead asks for the pages at from, from+MaxPageSize, ... below total,
// c.pageConcurrency at a time, and hands them to handle in order while each
// is full and continues where the last one ended. It returns the offset
// after the last page handled, done when the sweep is complete (an empty
// page or one reaching its TotalCount), stopped when handle returned false.
//
// One dispatcher takes the pages' rate-limit tokens in offset order and
// starts each page's call once it has its token and a place in the window;
// a place is freed when its page has been handled. Were the calls to wait
// for their tokens themselves, a page could get a later token than the
// pages after it, and the window would stall on it while tokens went
// unused. Pages asked for but not handled are cancelled and waited for.
func (c *Client) fetchAhead(ctx context.Context, region string, base DescribeInstancesRequest, from, total int64, handle func(*DescribeInstancesResponse) bool) (next int64, done, stopped bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	type result struct {
		resp *DescribeInstancesResponse
		err  error
	}
	var offsets []int64
	for o := from; o < total; o += MaxPageSize {
		offsets = append(offsets, o)
	}
	results := make([]chan result, len(offsets))
	for i := range results {
		results[i] = make(chan result, 1)
	}
	window := make(chan struct{}, c.pageConcurrency)
	wg.Go(func() {
		for i, o := range offsets {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				// The consumer may be waiting for this very page: it
				// gets the reason instead (none is waiting when the
				// consumer cancelled, on its way out).
				results[i] <- result{err: fmt.Errorf("lighthouse: %s in %s: not sent: %w", ActionDescribeInstances, region, ctx.Err())}
				return
			}
			pctx, err := c.withToken(ctx, ActionDescribeInstances, region)
			if err != nil {
				results[i] <- result{err: err}
				return
			}
			wg.Go(func() {
				page := base
				page.Offset = o
				resp, err := c.DescribeInstancesPage(pctx, region, &page)
				results[i] <- result{resp, err}
			})
		}
	})
	next = from
	for i, o := range offsets {
		r := <-results[i]
		if r.err != nil {
			return 0, false, false, r.err
		}
		<-window // the page's place, taken when it was started
		n, pageTotal, more := handOver(r.resp, handle)
		if !more {
			return 0, false, true, nil
		}
		next = o + n
		if n == 0 || next >= pageTotal {
			return next, true, false, nil
		}
		if n < MaxPageSize {
			return next, false, false, nil
		}
	}
	return next, false, false, nil
}

// CodeInstanceIdNotFound is the error some DescribeInstances calls answer
// when one of the InstanceIds asked for does not exist: it is in
// DescribeInstances' error list (the China SDK's client.go; errors.go: the
// instance ID does not exist), while the documentation of TerminateInstances
// says a terminated instance simply stops being listed. Which of the two a
// lookup of a vanished ID gets is not documented, so the client accepts
// both (see describeIDs).
const CodeInstanceIdNotFound = "ResourceNotFound.InstanceIdNotFound"

// describeIDs returns the instances among ids (at most MaxPageSize), with
// base's filters ignored. An answer of CodeInstanceIdNotFound means that
// some of the IDs are gone, not that the lookup failed: the IDs are split
// in halves and each half asked again, until the gone ones stand alone and
// are left out. That costs about 2·log2(len(ids)) extra calls per gone ID.
func (c *Client) describeIDs(ctx context.Context, region string, base DescribeInstancesRequest, ids []string) ([]Instance, error) {
	page := base
	page.InstanceIds, page.Offset, page.Limit = ids, 0, MaxPageSize
	resp, err := c.DescribeInstancesPage(ctx, region, &page)
	if err == nil {
		return resp.InstanceSet, nil
	}
	if ErrorCode(err) != CodeInstanceIdNotFound {
		return nil, err
	}
	if len(ids) == 1 {
		return nil, nil
	}
	half := len(ids) / 2
	first, err := c.describeIDs(ctx, region, base, ids[:half:half])
	if err != nil {
		return nil, err
	}
	second, err := c.describeIDs(ctx, region, base, ids[half:])
	if err != nil {
		return nil, err
	}
	return append(first, second...), nil
}

func sameKeys(a, b map[string]struct{}) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// DescribeBundles makes one DescribeBundles call (one page).
func (c *Client) DescribeBundles(ctx context.Context, region string, req *DescribeBundlesRequest) (*DescribeBundlesResponse, error) {
	return send[DescribeBundlesResponse](ctx, c, ActionDescribeBundles, region, req, readOnly)
}

// DescribeBlueprints makes one DescribeBlueprints call (one page).
func (c *Client) DescribeBlueprints(ctx context.Context, region string, req *DescribeBlueprintsRequest) (*DescribeBlueprintsResponse, error) {
	return send[DescribeBlueprintsResponse](ctx, c, ActionDescribeBlueprints, region, req, readOnly)
}

// DescribeZones lists the zones of region.
func (c *Client) DescribeZones(ctx context.Context, region string, req *DescribeZonesRequest) (*DescribeZonesResponse, error) {
	if req == nil {
		req = &DescribeZonesRequest{}
	}
	return send[DescribeZonesResponse](ctx, c, ActionDescribeZones, region, req, readOnly)
}

// DescribeRegions lists the regions; it needs no region.
func (c *Client) DescribeRegions(ctx context.Context) (*DescribeRegionsResponse, error) {
	return send[DescribeRegionsResponse](ctx, c, ActionDescribeRegions, "", &DescribeRegionsRequest{}, readOnly)
}

// DescribeGeneralResourceQuotas returns quotas such as GENERAL_BUNDLE_INSTANCE.
func (c *Client) DescribeGeneralResourceQuotas(ctx context.Context, region string, req *DescribeGeneralResourceQuotasRequest) (*DescribeGeneralResourceQuotasResponse, error) {
	return send[DescribeGeneralResourceQuotasResponse](ctx, c, ActionDescribeGeneralResourceQuotas, region, req, readOnly)
}

// InquirePriceCreateInstances returns what a create would cost.
func (c *Client) InquirePriceCreateInstances(ctx context.Context, region string, req *InquirePriceCreateInstancesRequest) (*InquirePriceCreateInstancesResponse, error) {
	return send[InquirePriceCreateInstancesResponse](ctx, c, ActionInquirePriceCreateInstances, region, req, readOnly)
}

// IsolateInstances returns prepaid instances (they go to SHUTDOWN). A
// repeat after a lost response cannot isolate anything twice; it may come
// back with an error saying the instance is already being isolated.
func (c *Client) IsolateInstances(ctx context.Context, region string, req *IsolateInstancesRequest) (*IsolateInstancesResponse, error) {
	return send[IsolateInstancesResponse](ctx, c, ActionIsolateInstances, region, req, callOpts{mutating: true})
}

// TerminateInstances destroys SHUTDOWN instances, irreversibly.
func (c *Client) TerminateInstances(ctx context.Context, region string, req *TerminateInstancesRequest) (*TerminateInstancesResponse, error) {
	return send[TerminateInstancesResponse](ctx, c, ActionTerminateInstances, region, req, callOpts{mutating: true})
}

// send makes one call of action and decodes its success response as a T.
func send[T any](ctx context.Context, c *Client, action, region string, req any, o callOpts) (*T, error) {
	out := new(T)
	if err := c.call(ctx, action, region, req, out, o); err != nil {
		return nil, err
	}
	return out, nil
}
