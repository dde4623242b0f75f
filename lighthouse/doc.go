// Package lighthouse is lightkeeper's client for the Tencent Cloud
// Lighthouse API (service "lighthouse", version 2020-03-24): TC3-HMAC-SHA256
// signing, the wire types of the actions lightkeeper uses, and a transport
// with retries, per-action rate limits and typed errors.
//
// It is the only package that speaks to Tencent Cloud. The emulator in
// lighthouse/emulator serves the same wire protocol and reuses these types.
package lighthouse
