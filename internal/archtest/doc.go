// Package archtest holds no code: its test keeps the one-way data flow of
// docs/design.md section 2 by listing every package's dependencies with
// go list and failing on a forbidden edge.
package archtest
